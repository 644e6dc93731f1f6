"""Speed options: torch.compile of encoder + network, matmul precision, evaluation in float32 under autocast."""

from __future__ import annotations

import os

import pytest
import torch
from conftest import TINY_MODEL
from lightning.pytorch.callbacks import Callback

from inr.losses.derivatives import GradientLoss
from inr.training.module import INRModule

SPEC = {"in_dim": 2, "out_dim": 1, "value_range": (-1.0, 1.0)}


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get("ATEN_CPU_CAPABILITY")),
                    reason="ATEN_CPU_CAPABILITY forces ATen's kernels to another ISA than the one torch.compile "
                           "generates code for: plain torch.compile(lambda t: torch.sin(30 * t)) then returns NaN "
                           "(torch 2.13)")
def test_compiled_model_trains_like_the_eager_one(gray_png, tmp_path):
    torch.manual_seed(0)
    eager = INRModule(signal=SPEC)
    compiled = INRModule(signal=SPEC, compile=True)
    compiled.load_state_dict(eager.state_dict())
    initial = eager.state_dict()["network.net.0.linear.weight"].clone()
    coords = torch.rand(256, 2) * 2 - 1
    values = torch.sin(3 * coords[:, :1])
    for model in (eager, compiled):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        for _ in range(3):
            optimizer.zero_grad()
            (model(coords) - values).square().mean().backward()
            optimizer.step()
    assert compiled._compiled is not None
    assert torch.allclose(compiled(coords), eager(coords), atol=1e-4)
    assert not torch.equal(compiled.state_dict()["network.net.0.linear.weight"], initial)  # it did train


def test_compile_refuses_derivative_losses():
    with pytest.raises(ValueError, match=r"compile: true cannot train the derivative losses \['gradient'\]"):
        INRModule(signal=SPEC, losses=[GradientLoss()], compile=True)


def test_matmul_precision_applies_during_fit_and_is_restored(gray_png, tmp_path):
    seen = []

    class Record(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen.append(torch.get_float32_matmul_precision())

    before = torch.get_float32_matmul_precision()
    from inr.cli import build_cli

    cli = build_cli(["--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--data.size",
                     "null", "--trainer.max_steps", "2", "--trainer.logger", "false", "--model.matmul_precision",
                     "medium", "--trainer.default_root_dir", str(tmp_path), *TINY_MODEL], run=False)
    cli.trainer.callbacks.append(Record())
    cli.trainer.fit(cli.model, cli.datamodule)
    assert before == "highest" and seen == ["medium", "medium"]
    assert torch.get_float32_matmul_precision() == before


def test_validation_evaluates_in_float32_under_bf16_autocast():
    model = INRModule(signal=SPEC).train()
    coords = torch.rand(64, 2) * 2 - 1
    exact = model(coords)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(coords).dtype == torch.bfloat16  # training under bf16-mixed
        model.eval()  # as Lightning's validation loop sets it
        evaluated = model(coords)
    assert evaluated.dtype == torch.float32 and torch.equal(evaluated, exact)


def test_compile_without_a_working_compiler_says_so(monkeypatch):
    import torch._inductor.config as inductor_config

    monkeypatch.setattr(inductor_config.cpp, "cxx", ("/nonexistent/cc",))
    torch._dynamo.reset()
    model = INRModule(signal=SPEC, compile=True)
    with pytest.raises(RuntimeError, match=r"model.compile: torch.compile could not build the model \(Invalid"):
        model(torch.rand(8, 2))
    torch._dynamo.reset()

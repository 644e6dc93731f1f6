import functools

import lightning as L
import pytest
import torch

from datamodules.image import ImageDataModule
from inr.core.step import Step
from inr.losses import ValueLoss
from inr.nn.encoders import Identity
from inr.nn.networks import Siren
from inr.training.module import INRModule


def test_value_loss_matches_hand_computation():
    outputs = torch.tensor([[0.0], [1.0], [0.5]])
    step = Step(torch.zeros(3, 2), outputs, {"values": torch.tensor([[1.0], [1.0], [0.0]])})
    assert ValueLoss(weight=2.0)(step).item() == pytest.approx((1 + 0 + 0.25) / 3)


def test_missing_target_names_what_the_datamodule_provides():
    step = Step(torch.zeros(1, 2), torch.zeros(1, 1), {"coords": torch.zeros(1, 2)})
    with pytest.raises(KeyError, match=r"needs batch\['values'\].*provides only \['coords'\]"):
        ValueLoss()(step)


def _weights_after_steps(gray_png, chunk_size, steps=3):
    torch.manual_seed(0)
    data = ImageDataModule(path=str(gray_png))
    model = INRModule(
        encoder=Identity, network=functools.partial(Siren, hidden=16, layers=1),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3), chunk_size=chunk_size, signal=data.signal_spec,
    )
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        limit_val_batches=0, enable_model_summary=False)
    trainer.fit(model, data)
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_chunked_step_equals_full_batch_step(gray_png):
    full = _weights_after_steps(gray_png, chunk_size=1024)
    chunked = _weights_after_steps(gray_png, chunk_size=100)  # 1024 pixels in 11 uneven chunks
    initial = _weights_after_steps(gray_png, chunk_size=1024, steps=0)
    assert not torch.allclose(full, initial)
    torch.testing.assert_close(chunked, full, atol=2e-6, rtol=1e-5)


def test_module_rejects_empty_or_repeated_losses():
    spec = {"in_dim": 2, "out_dim": 1, "value_range": [-1, 1]}
    with pytest.raises(ValueError, match="losses is empty"):
        INRModule(losses=[], signal=spec)
    with pytest.raises(ValueError, match="repeated names"):
        INRModule(losses=[ValueLoss(), ValueLoss()], signal=spec)
    with pytest.raises(ValueError, match="needs `signal`"):
        INRModule()

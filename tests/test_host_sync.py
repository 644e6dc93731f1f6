"""The training step does not wait for the device: no tensor is read by the host between logging steps.

On a GPU, ``.item()``, ``bool()``, ``float()``, ``.tolist()`` and friends on a device tensor block the host until the
device has caught up, so the next step's Python work no longer overlaps the current step's kernels. On the CPU the
same calls are counted (a TorchFunctionMode sees every one) over whole training steps run by ``inr fit``: from one
step's start to the next's, progress bar, W&B logger and checkpoint callback included.
"""

from __future__ import annotations

import re
import traceback

import pytest
import torch
from conftest import TINY_MODEL
from lightning.pytorch.callbacks import Callback
from torch.overrides import TorchFunctionMode

from inr.training.progress import ProgressBar

#: Tensor methods that copy a value to the host (a device sync on a GPU).
HOST_READS = {"item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy", "nonzero", "__format__"}


class _HostReads(TorchFunctionMode):
    """Records the host reads made inside it, with the line of inr or Lightning code that made each.

    Reads of ``host_tensors()`` are not counted: the optimizer's step counters, which PyTorch keeps on the CPU for
    a model on a GPU too (Adam without ``capturable`` or ``fused``).
    """

    def __init__(self, host_tensors) -> None:
        super().__init__()
        self.reads: list[str] = []
        self.host_tensors = host_tensors

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in HOST_READS and not any(args and args[0] is tensor for tensor in self.host_tensors()):
            caller = next((frame for frame in reversed(traceback.extract_stack()[:-1])
                           if "torch/" not in frame.filename), None)
            self.reads.append(f"{name} at {caller.filename}:{caller.lineno}" if caller else name)
        return func(*args, **(kwargs or {}))


class HostReadsPerStep(Callback):
    """Counts host reads from each training step's start to the next step's start, by global step."""

    def __init__(self) -> None:
        self.per_step: dict[int, list[str]] = {}
        self._mode: _HostReads | None = None
        self._step = 0

    def _close(self) -> None:
        if self._mode is not None:
            self._mode.__exit__(None, None, None)
            self.per_step[self._step] = self._mode.reads
            self._mode = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._close()
        self._step = trainer.global_step
        self._mode = _HostReads(lambda: [state["step"] for optimizer in trainer.optimizers
                                         for state in optimizer.state.values()])
        self._mode.__enter__()

    def on_train_end(self, trainer, pl_module) -> None:
        self._close()


@pytest.mark.parametrize("config", ["image_siren", "poisson_gradient"])
def test_training_steps_between_logging_steps_read_nothing_from_the_device(config, gray_png, tmp_path):
    import wandb
    from wandb_reader import wait_until_finished

    from inr.cli import build_cli

    counter = HostReadsPerStep()
    cli = build_cli(["--config", f"configs/{config}.yaml", "--data.path", str(gray_png), "--data.size", "null",
                     "--trainer.max_steps", "8", "--trainer.log_every_n_steps", "4", "--trainer.val_check_interval",
                     "8", "--trainer.default_root_dir", str(tmp_path), *TINY_MODEL], run=False)
    cli.trainer.callbacks.append(counter)
    try:
        cli.trainer.fit(cli.model, cli.datamodule)
    finally:
        wandb.finish()
    wait_until_finished(tmp_path)
    assert sorted(counter.per_step) == list(range(8))
    # steps 0 and 4 log (and read the loss: the NaN check happens there); step 7 validates and saves at the end
    quiet = {step: reads for step, reads in counter.per_step.items() if step not in (0, 4, 7)}
    assert quiet == {1: [], 2: [], 3: [], 5: [], 6: []}
    assert counter.per_step[0] and counter.per_step[4]  # the counter sees the reads that logging makes
    # the progress bar shows the loss of the last logging step (step 4), read there
    bar = cli.trainer.progress_bar_callback
    assert isinstance(bar, ProgressBar)
    shown = bar.get_metrics(cli.trainer, cli.model)["train/loss"]
    assert shown == pytest.approx(cli.trainer.callback_metrics["train/loss"].item())


def test_a_nan_loss_between_logging_steps_stops_at_the_next_one(gray_png, tmp_path, capsys):
    from inr.cli import find_last_checkpoint, main

    with pytest.raises(SystemExit):
        main(["fit", "--config", "configs/image_relu.yaml", "--data.path", str(gray_png), "--trainer.max_steps", "50",
              "--model.optimizer.lr", "1e30", "--trainer.log_every_n_steps", "20", "--checkpoint.every_n_train_steps",
              "100", "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
              "--trainer.logger", "false", *TINY_MODEL])
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.match(r"inr: error: train/loss is (nan|inf) at step \d+ \(value=\S+\), noticed at step 20; no "
                    r"checkpoint holds weights updated from it\. .* the last good checkpoint is kept\.$", message)
    assert find_last_checkpoint(tmp_path) is None  # the end-of-fit checkpoint was refused


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run with INR_TEST_GPU=1)")
def test_training_steps_between_logging_steps_do_not_synchronize_the_gpu(gray_png, tmp_path):
    from inr.cli import build_cli

    class SyncsAreErrors(Callback):
        """torch.cuda's sync debug mode set to "error" from the start of each quiet step to the next step's start."""

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            step = trainer.global_step
            quiet = step % trainer.log_every_n_steps != 0 and step < trainer.max_steps - 1
            torch.cuda.set_sync_debug_mode("error" if quiet else "default")

        def on_train_end(self, trainer, pl_module):
            torch.cuda.set_sync_debug_mode("default")

    cli = build_cli(["--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--data.size", "null",
                     "--trainer.max_steps", "8", "--trainer.log_every_n_steps", "4", "--trainer.val_check_interval",
                     "8", "--trainer.accelerator", "gpu", "--trainer.devices", "1", "--trainer.logger", "false",
                     "--trainer.default_root_dir", str(tmp_path), *TINY_MODEL], run=False)
    cli.trainer.callbacks.append(SyncsAreErrors())
    try:
        cli.trainer.fit(cli.model, cli.datamodule)  # a synchronizing call in a quiet step raises RuntimeError
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert cli.trainer.global_step == 8

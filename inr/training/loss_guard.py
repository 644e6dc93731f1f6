"""Stop on a NaN or infinite loss without making the accelerator wait for the host every step.

Testing ``if not torch.isfinite(loss)`` each step copies the loss to the host, so the GPU idles while Python
prepares the next step. :class:`NonFiniteLossGuard` instead notes, on the device, the first step whose loss is not
finite, and raises when asked; the module asks where it waits for the device anyway: at logging steps, before a
checkpoint is written, before validation and at the end of fitting. A run therefore stops at most
``log_every_n_steps`` steps after the first bad loss, and no checkpoint ever holds weights updated from one.
"""

from __future__ import annotations

import torch
from torch import Tensor

from inr.core.errors import NonFiniteLossError


class NonFiniteLossGuard:
    """The first non-finite loss of a run, kept on the device until :meth:`check` reads it.

    Args:
        names: the loss terms' names, in the order of the ``terms`` given to :meth:`observe`.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        self._step: Tensor | None = None  # first bad step, -1 while there is none
        self._values: Tensor | None = None  # [total, *terms] at that step

    def observe(self, step: int, total: Tensor, terms: Tensor) -> None:
        """Note ``step`` if its ``total`` loss (scalar) is the first non-finite one; ``terms`` [T]. No host sync."""
        if self._step is None:
            self._step = torch.full((), -1, dtype=torch.long, device=total.device)
            self._values = torch.zeros(1 + len(self.names), dtype=total.dtype, device=total.device)
        first = (self._step < 0) & ~torch.isfinite(total)
        self._step = torch.where(first, step, self._step)
        self._values = torch.where(first, torch.cat([total.reshape(1), terms.to(total.dtype)]), self._values)

    def check(self, now: int) -> None:
        """Raise ``FloatingPointError`` if a non-finite loss was seen (reads the note: one host sync).

        Args:
            now: the current step, named in the message.
        """
        if self._step is None:
            return
        step = int(self._step)
        if step < 0:
            return
        total, *terms = self._values.tolist()
        detail = ", ".join(f"{name}={value:.4g}" for name, value in zip(self.names, terms))
        later = "" if now == step else f", noticed at step {now}"
        raise NonFiniteLossError(
            f"train/loss is {total} at step {step} ({detail}){later}; no checkpoint holds weights updated from it. "
            "Lower the learning rate or check the data; the last good checkpoint is kept."
        )


def guarded_update(module, optimizer, total: Tensor, terms: Tensor) -> float | None:
    """One optimizer (and scheduler) step of a Lightning module under its ``loss_guard``.

    Notes ``total`` [] and ``terms`` [T] on the device; at logging steps (every ``log_every_n_steps``) checks the
    guard before the update, so a first bad loss there changes no weight. Returns the learning rate of the first
    parameter group at logging steps, else None.
    """
    module.loss_guard.observe(module.global_step, total, terms)
    logging_step = module.global_step % module.trainer.log_every_n_steps == 0
    learning_rate = None
    if logging_step:
        module.loss_guard.check(module.global_step)
        learning_rate = float(optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler = module.lr_schedulers()
    if scheduler is not None:
        scheduler.step()
    return learning_rate

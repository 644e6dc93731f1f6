"""The DataModule's targets of one evaluation, read by name.

Losses read them from a :class:`~inr.core.step.Step`, metrics from an :class:`~inr.core.evaluation.Evaluation`.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from inr.core.errors import MissingTargetError


class Targets:
    """A batch of targets (``values``, ``gradients``, ``normals``...) in ``self.batch``, read with :meth:`target`."""

    batch: dict[str, Tensor]
    #: how the error for a missing target starts, with ``{key!r}`` (who reads it, and from which batch).
    missing_target: ClassVar[str] = "this reader needs batch[{key!r}]"

    def target(self, key: str) -> Tensor:
        """The batch entry ``key``, with a clear error when the DataModule does not provide it."""
        if key not in self.batch:
            raise MissingTargetError(self.missing_target.format(key=key) + ", but the DataModule provides only "
                                     f"{sorted(self.batch)}")
        return self.batch[key]

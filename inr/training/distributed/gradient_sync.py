"""One gradient all-reduce per optimisation step under multi-process training, weighted by each rank's points.

A training step accumulates its gradients over chunks (:meth:`INRModule.training_step`). DDP's reducer
would all-reduce at every chunk's backward pass: the traffic grows with the number of chunks, ranks that hold
different numbers of chunks (uneven full-batch shards) pair the wrong reductions or wait forever, and a parameter
that gets no gradient (the last bias under derivative-only losses) stops the job. inr keeps the reducer out of the
accumulation (``no_sync``) and reduces once per step itself: each rank's gradients of its own mean loss and its loss
terms, weighted by its number of points, in one flat all-reduce. The result is the gradient of the mean over all
ranks' points: the step one process would take on their union.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import Tensor, nn

from inr.core.errors import InputError
from inr.training.distributed import liveness


def resolve_conjugate_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Materialise gradients that autograd left as lazy conjugate views.

    Complex parameters get them from a double backward (WIRE under derivative losses); optimizers and
    :func:`all_reduce_gradients` view gradients as real, which a lazy conjugate refuses.
    """
    for parameter in parameters:
        if parameter.grad is not None and parameter.grad.is_conj():
            parameter.grad = parameter.grad.resolve_conj()


def _as_real(grad: Tensor) -> Tensor:
    """A real view of a gradient: a complex one as [..., 2] (real, imaginary), aliasing its storage."""
    return torch.view_as_real(grad) if grad.is_complex() else grad


def all_reduce_gradients(parameters: Iterable[nn.Parameter], points: int, terms: Tensor) -> Tensor:
    """Replace every gradient by the points-weighted mean over the ranks; return the loss terms averaged alike.

    Args:
        parameters: the model's parameters, in the same order on every rank. Those without a gradient (not used by
            the losses: the same on every rank, since every rank holds at least one point) keep none. A complex
            gradient (no lazy conjugate: :func:`resolve_conjugate_gradients`) travels as its real and imaginary
            parts.
        points: the number of points this rank's gradients and terms are means over (>= 1).
        terms: this rank's loss terms, means over its points, [T].

    Returns:
        The loss terms as means over all ranks' points, [T].
    """
    grads = [_as_real(parameter.grad) for parameter in parameters if parameter.grad is not None]
    dtype = grads[0].dtype if grads else terms.dtype
    flat = torch.cat([grad.reshape(-1) for grad in grads] + [terms.to(dtype), terms.new_ones(1, dtype=dtype)])
    flat.mul_(points)
    liveness.note_reduction()
    dist.all_reduce(flat)
    total_points = flat[-1].clone()
    flat.div_(total_points)
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
        offset += grad.numel()
    return flat[offset:-1].to(terms.dtype)


def check_ddp_strategy(trainer, command: str) -> None:
    """Refuse a multi-process strategy other than DDP (the step reduces the gradients itself, with DDP's reducer off).

    ``command`` names what fits (``inr fit``) in the message.
    """
    from lightning.pytorch.strategies import DDPStrategy

    if trainer is not None and trainer.world_size > 1 and not isinstance(trainer.strategy, DDPStrategy):
        raise InputError(f"trainer strategy {type(trainer.strategy).__name__} is not supported on several "
                         f"processes: {command} fits with DDP (--trainer.strategy ddp), whose gradients it reduces "
                         "itself")


def without_gradient_reducer(trainer) -> contextlib.AbstractContextManager:
    """DDP's ``no_sync`` while a step accumulates its gradients (it reduces them once itself); nothing on one process.

    Only DDP runs on several processes (:func:`check_ddp_strategy`).
    """
    if trainer.world_size > 1:
        return trainer.strategy.block_backward_sync()
    return contextlib.nullcontext()

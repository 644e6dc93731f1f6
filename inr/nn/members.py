"""K independent copies of a module, evaluated in one batched pass: [K, N, d] -> [K, N, c].

:class:`Members` keeps the module's own structure, with every parameter and buffer stacked along a leading member
axis (``net.0.linear.weight`` becomes [K, out, in]), so a single network's state dict is one slice of it
(:meth:`Members.member_state`). The forward pass maps ``torch.func.functional_call`` over the members with
``torch.func.vmap``: one batched matmul per layer for K small networks, where K separate calls are all overhead.

Member k is built as a single run would build it: the global RNG seeded with its own seed just before the module
is constructed (:func:`build_members`), so it starts from exactly the weights of the single run with that seed.
Members share nothing: the gradient of a sum of per-member losses w.r.t. member k's slice is member k's own
gradient, and an elementwise optimizer (Adam) moves each member along exactly its own trajectory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from inr.core.errors import InputError


def _owner(module: nn.Module, name: str) -> tuple[nn.Module, str]:
    """The submodule holding the parameter or buffer ``name`` (dotted) and its local name."""
    *path, leaf = name.split(".")
    for part in path:
        module = getattr(module, part)
    return module, leaf


class Members(nn.Module):
    """K copies of one module with stacked parameters, called as one: inputs [K, ...] -> outputs [K, ...].

    Args:
        copies: the K modules, of one structure (same class, options and tensor shapes); member k is ``copies[k]``.

    What the module declares as an encoder or a network (``out_dim``, ``piecewise_linear``,
    ``exact_input_derivatives``, ``describe()``, ``parameter_groups()``) is answered by the wrapped module, so code
    that asks an encoder or a network about itself works on its members alike.
    """

    def __init__(self, copies: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(copies) == 0:
            raise InputError("Members needs at least one module")
        template = copies[0]
        states = [dict(copy.state_dict(keep_vars=True)) for copy in copies]
        for index, state in enumerate(states[1:], start=1):
            shapes = {key: tuple(value.shape) for key, value in state.items()}
            if shapes != {key: tuple(value.shape) for key, value in states[0].items()}:
                raise InputError(f"Members: copy {index} of {type(template).__name__} differs in structure from copy 0")
        parameters = dict(template.named_parameters())
        buffers = dict(template.named_buffers())
        for name, value in parameters.items():
            owner, leaf = _owner(template, name)
            stacked = torch.stack([dict(copy.named_parameters())[name].detach() for copy in copies])
            setattr(owner, leaf, nn.Parameter(stacked, requires_grad=value.requires_grad))
        for name in buffers:
            owner, leaf = _owner(template, name)
            stacked = torch.stack([dict(copy.named_buffers())[name] for copy in copies])
            owner.register_buffer(leaf, stacked, persistent=leaf not in owner._non_persistent_buffers_set)
        self.module = template
        self.count = len(copies)
        #: the members the forward pass evaluates (a process's shard under multi-process fitting).
        self.active = slice(0, self.count)

    @property
    def active_count(self) -> int:
        """How many members the forward pass evaluates."""
        return len(range(self.count)[self.active])

    @property
    def out_dim(self) -> int:
        """The wrapped module's output features."""
        return self.module.out_dim

    @property
    def piecewise_linear(self) -> bool:
        """Whether the wrapped module is piecewise linear in its input."""
        return self.module.piecewise_linear

    @property
    def exact_input_derivatives(self) -> bool:
        """Whether autograd's input derivatives of the wrapped module are its own (networks; True for encoders)."""
        return getattr(self.module, "exact_input_derivatives", True)

    def describe(self) -> str:
        """The wrapped module's short name."""
        return self.module.describe()

    def forward(self, inputs: Tensor) -> Tensor:
        """Member k's module on ``inputs[k]``: inputs [K, ...] -> outputs [K, ...] (K: the active members)."""
        if inputs.shape[0] != self.active_count:
            raise InputError(f"Members of {self.active_count} got inputs for {inputs.shape[0]} members (shape "
                             f"{tuple(inputs.shape)}); the leading axis is the member")
        state = {name: value[self.active] for name, value in
                 [*self.module.named_parameters(), *self.module.named_buffers()]}

        def one(member_state: dict[str, Tensor], member_inputs: Tensor) -> Tensor:
            return torch.func.functional_call(self.module, member_state, (member_inputs,))

        return torch.func.vmap(one)(state, inputs)

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The module's own optimizer groups (e.g. a hash grid's table), with the stacked parameters."""
        return self.module.parameter_groups()

    def member_state(self, index: int) -> dict[str, Tensor]:
        """Member ``index``'s state dict: what a single module of the same structure loads."""
        if not 0 <= index < self.count:
            raise InputError(f"member {index} does not exist: there are {self.count} (0..{self.count - 1})")
        return {key: value[index] for key, value in self.module.state_dict().items()}


def build_members(factory: Callable[[], tuple[nn.Module, ...]], seeds: Sequence[int]) -> tuple[Members, ...]:
    """Build ``factory()`` once per seed, each time right after ``torch.manual_seed(seed)``, and stack the results.

    ``factory`` returns a tuple of modules (e.g. encoder and network, built in that order as a single run builds
    them); the result is one :class:`Members` per entry. The caller's RNG state is left as it was.
    """
    if len(seeds) == 0:
        raise InputError("build_members needs at least one seed")
    built = []
    with torch.random.fork_rng(devices=[]):
        for seed in seeds:
            torch.manual_seed(seed)
            built.append(factory())
    return tuple(Members([copies[part] for copies in built]) for part in range(len(built[0])))


def member_seeds(count: int, first: int | None = None) -> list[int]:
    """Seeds of members 0..count-1: ``first + k``.

    ``first`` defaults to the run's seed (``torch.initial_seed()``, which ``seed_everything`` sets), so member k of
    a run seeded s starts as the single run seeded s + k.
    """
    first = torch.initial_seed() if first is None else first
    return [first + index for index in range(count)]

"""The one place that imports PyTorch, an optional baseline.

torch is imported with ``importlib`` so that the type checkers never need it installed; what the
benchmarks use of it is described by the small Protocols below, and the module object is cast to
them once, here. ``load()`` returns None when torch is missing, and the benchmarks then skip it.
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from functools import cache
from typing import TYPE_CHECKING, Protocol, cast

# Only for the annotations: typed_dezero is imported where it is measured, never by the baselines.
if TYPE_CHECKING:
    from typed_dezero._typing import Arr, IntArr

__all__ = ["Tensor", "Torch", "grad_sum", "load", "tensor", "version"]


class Tensor(Protocol):
    """The part of ``torch.Tensor`` the benchmarks use."""

    grad: Tensor | None

    def __add__(self, other: Tensor | float, /) -> Tensor: ...
    def __radd__(self, other: Tensor | float, /) -> Tensor: ...
    def __sub__(self, other: Tensor | float, /) -> Tensor: ...
    def __rsub__(self, other: Tensor | float, /) -> Tensor: ...
    def __mul__(self, other: Tensor | float, /) -> Tensor: ...
    def __rmul__(self, other: Tensor | float, /) -> Tensor: ...
    def __truediv__(self, other: Tensor | float, /) -> Tensor: ...
    def __matmul__(self, other: Tensor, /) -> Tensor: ...
    def backward(self, gradient: Tensor | None = None, *, create_graph: bool = False) -> None: ...
    def sub_(self, other: Tensor, /) -> Tensor: ...
    def requires_grad_(self, requires_grad: bool = True, /) -> Tensor: ...
    def sum(self) -> Tensor: ...
    def item(self) -> float: ...


class _Functional(Protocol):
    def conv2d(self, x: Tensor, W: Tensor, /, *, padding: int) -> Tensor: ...
    def max_pool2d(self, x: Tensor, /, kernel_size: int, stride: int) -> Tensor: ...
    def cross_entropy(self, x: Tensor, t: Tensor, /) -> Tensor: ...


class _NN(Protocol):
    @property
    def functional(self) -> _Functional: ...


class _Autograd(Protocol):
    def grad(self, output: Tensor, wrt: Tensor, /, *, create_graph: bool) -> tuple[Tensor, ...]: ...


class Torch(Protocol):
    """The part of the ``torch`` module the benchmarks use."""

    @property
    def __version__(self) -> str: ...
    @property
    def nn(self) -> _NN: ...
    @property
    def autograd(self) -> _Autograd: ...

    def from_numpy(self, a: Arr | IntArr, /) -> Tensor: ...
    def ones_like(self, a: Tensor, /) -> Tensor: ...
    def sin(self, x: Tensor, /) -> Tensor: ...
    def exp(self, x: Tensor, /) -> Tensor: ...
    def tanh(self, x: Tensor, /) -> Tensor: ...
    def sigmoid(self, x: Tensor, /) -> Tensor: ...
    def no_grad(self) -> AbstractContextManager[None]: ...
    def set_num_threads(self, n: int, /) -> None: ...
    def get_num_threads(self) -> int: ...


@cache
def load() -> Torch | None:
    """The torch module, pinned to one thread, or None when it is not installed."""
    try:
        module = importlib.import_module("torch")
    except ImportError:
        return None
    torch = cast(Torch, module)
    torch.set_num_threads(1)
    return torch


def version() -> str | None:
    """torch's version, or None when it is not installed."""
    torch = load()
    return None if torch is None else torch.__version__


def tensor(torch: Torch, a: Arr, *, requires_grad: bool = False) -> Tensor:
    """A float64 tensor with a copy of `a` (``from_numpy`` keeps the dtype; the copy keeps `a` safe)."""
    t = torch.from_numpy(a.copy())
    return t.requires_grad_() if requires_grad else t


def grad_sum(t: Tensor) -> float:
    """The sum of ``t.grad`` (NaN when there is none)."""
    g = t.grad
    return float("nan") if g is None else g.sum().item()

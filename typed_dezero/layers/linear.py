"""Fully connected layers."""

from __future__ import annotations

from typing import final

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr
from typed_dezero.core.variable import Parameter, Variable, to_variable
from typed_dezero.errors import ShapeError
from typed_dezero.layers._init import (
    DTypeArg,
    check_dtype,
    check_fits,
    check_positive,
    generator,
    scaled_normal,
)
from typed_dezero.layers.layer import Layer

__all__ = ["Linear"]


@final
class Linear(Layer[[Variable | Arr], Variable]):
    """``y = x @ W + b`` with W of shape (in_size, out_size) and b of shape (out_size,).

    With ``in_size=None`` the weight is created at the first call from ``x.shape[-1]`` (reading
    ``W`` before that raises UninitializedParameterError). Weights are drawn from `rng` (a NumPy
    Generator; by default the library's own) as normal values scaled by ``sqrt(1 / in_size)``.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> layer = L.Linear(3, rng=np.random.default_rng(0))
        >>> layer.in_size is None  # W does not exist yet
        True
        >>> layer(np.ones((2, 5))).shape
        (2, 3)
        >>> layer.W.shape, layer.in_size
        ((5, 3), 5)
    """

    W: Parameter
    b: Parameter | None

    @typechecked
    def __init__(
        self,
        out_size: int,
        nobias: bool = False,
        dtype: DTypeArg = None,
        in_size: int | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_dtype("Linear", dtype)
        check_positive("Linear", out_size=out_size, in_size=in_size)
        check_fits("Linear", "b (out_size,)", (out_size,))
        self.out_size = out_size
        self._rng = generator(rng)
        self.declare_lazy_parameter("W", (None, out_size))
        if in_size is not None:
            self._init_W(in_size)
        self.b = None if nobias else Parameter(np.zeros(out_size), name="b")

    @property
    def in_size(self) -> int | None:
        """The input size: W.shape[0], or None while W does not exist yet."""
        return self.W.shape[0] if self.is_initialized("W") else None

    def _init_W(self, in_size: int) -> None:
        check_fits("Linear", "W (in_size, out_size)", (in_size, self.out_size))
        self.set_lazy_parameter("W", scaled_normal(self._rng, (in_size, self.out_size), in_size))

    def build(self, x: Variable | Arr) -> None:
        """Create W for inputs like `x` (in_size from its last axis) if it does not exist yet, as
        the first call does; for layers that use this one's parameters without calling it.

        Raises ShapeError for a 0-d `x` or one without features. Called inside a layer call, the
        creation is undone if that call fails (see Layer.__call__).
        """
        if self.is_initialized("W"):
            return
        if x.ndim == 0:
            msg = "Linear: the input needs a feature axis, got a 0-d input"
            raise ShapeError(msg)
        if x.shape[-1] == 0:
            msg = f"Linear: the input needs at least one feature (its last axis), got shape {x.shape}"
            raise ShapeError(msg)
        self._init_W(x.shape[-1])

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        x = to_variable("Linear", x, "x")
        self.build(x)
        return F.linear(x, self.W, self.b)

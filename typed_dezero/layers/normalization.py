"""Batch normalisation."""

from __future__ import annotations

import sys
from typing import final

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr
from typed_dezero.core.variable import Parameter, Variable, to_variable
from typed_dezero.errors import DezeroValueError, ShapeError
from typed_dezero.layers._init import check_fits, check_positive
from typed_dezero.layers.layer import Layer

__all__ = ["BatchNorm"]


@final
class BatchNorm(Layer[[Variable | Arr], Variable]):
    """Batch normalisation over channel axis 1 of (N, C) or (N, C, H, W) inputs.

    ``gamma`` and ``beta`` (shape (C,)) are trainable Parameters; the running mean and variance are
    state (saved with the weights, not returned by ``params()``), read with ``state("avg_mean")`` /
    ``state("avg_var")``. All four are created at the first call, when C is known, or at once when
    `channels` is given. In training the running statistics are updated as
    ``avg = momentum * avg + (1 - momentum) * batch`` (see :func:`typed_dezero.functions.batch_norm`).

    Raises DezeroValueError for `momentum` outside [0, 1], `eps` not > 0 or `channels` below 1.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> bn = L.BatchNorm(momentum=0.9)
        >>> bn.uninitialized()
        ['gamma', 'beta', 'avg_mean', 'avg_var']
        >>> y = bn(np.array([[1.0, 10.0], [3.0, 30.0]]))  # training mode: batch statistics
        >>> bn.state("avg_mean")  # 0.9 * 0 + 0.1 * batch mean
        array([0.2, 2. ])
        >>> [name for name, _ in bn.named_params()], sorted(bn.state_dict())
        (['gamma', 'beta'], ['avg_mean', 'avg_var', 'beta', 'gamma'])
    """

    gamma: Parameter
    beta: Parameter

    @typechecked
    def __init__(self, momentum: float = 0.9, eps: float = 2e-5, *, channels: int | None = None) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            msg = f"BatchNorm: momentum must be in [0, 1], got {momentum!r}"
            raise DezeroValueError(msg)
        if not 0.0 < eps <= sys.float_info.max:  # exact for ints beyond the float range, False for NaN
            msg = f"BatchNorm: eps must be a finite number > 0, got {eps!r}"
            raise DezeroValueError(msg)
        check_positive("BatchNorm", channels=channels)
        self.momentum = momentum
        self.eps = eps
        self.declare_lazy_parameter("gamma", (None,))
        self.declare_lazy_parameter("beta", (None,))
        self.declare_lazy_state("avg_mean", (None,))
        self.declare_lazy_state("avg_var", (None,))
        if channels is not None:
            self._init_params(channels)

    def _init_params(self, channels: int) -> None:
        check_fits("BatchNorm", "gamma (channels,)", (channels,))
        self.set_lazy_parameter("gamma", np.ones(channels))
        self.set_lazy_parameter("beta", np.zeros(channels))
        self.set_state("avg_mean", np.zeros(channels))
        self.set_state("avg_var", np.ones(channels))

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        x = to_variable("BatchNorm", x, "x")
        if x.ndim not in (2, 4):
            msg = f"BatchNorm: expected a (N, C) or (N, C, H, W) input, got shape {x.shape}"
            raise ShapeError(msg)
        if self.is_initialized("gamma"):
            return self._normalize(x)
        self._init_params(x.shape[1])  # undone if the call fails (see Layer.__call__)
        return self._normalize(x)

    @property
    def avg_mean(self) -> Variable:
        """DeZero's name for the running mean: a Variable over ``state("avg_mean")`` (read ``.data``).

        Raises UninitializedParameterError before the first call (unless `channels` was given).
        """
        return Variable(self.state("avg_mean"), name="avg_mean")

    @property
    def avg_var(self) -> Variable:
        """DeZero's name for the running variance: a Variable over ``state("avg_var")``."""
        return Variable(self.state("avg_var"), name="avg_var")

    def _normalize(self, x: Variable) -> Variable:
        return F.batch_norm(
            x, self.gamma, self.beta, self.state("avg_mean"), self.state("avg_var"), self.momentum, self.eps
        )

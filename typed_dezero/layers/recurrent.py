"""Recurrent layers: RNN and LSTM, stepping one time step per call (truncated BPTT friendly)."""

from __future__ import annotations

from typing import final

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr
from typed_dezero.core.variable import Variable, to_variable
from typed_dezero.layers._init import check_positive
from typed_dezero.layers.layer import Layer
from typed_dezero.layers.linear import Linear

__all__ = ["LSTM", "RNN"]


@final
class RNN(Layer[[Variable | Arr], Variable]):
    """Elman RNN step: ``h = tanh(x @ Wx + bx + h_prev @ Wh)``; the hidden state persists between
    calls until :meth:`reset_state`. x: (N, in_size) -> h: (N, hidden_size).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> rnn = L.RNN(5)
        >>> h1 = rnn(np.ones((2, 3)))
        >>> h2 = rnn(np.ones((2, 3)))  # uses h1
        >>> h2.shape, rnn.h is h2
        ((2, 5), True)
        >>> h2.unchain_backward()  # truncated BPTT: forget the graph behind h2
        >>> rnn.reset_state()  # a new sequence
    """

    h: Variable | None

    @typechecked
    def __init__(
        self, hidden_size: int, in_size: int | None = None, *, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        check_positive("RNN", hidden_size=hidden_size, in_size=in_size)
        self.x2h = Linear(hidden_size, in_size=in_size, rng=rng)
        # The hidden-to-hidden map always has hidden_size inputs (DeZero passed in_size here).
        self.h2h = Linear(hidden_size, in_size=hidden_size, nobias=True, rng=rng)
        self.h = None

    def reset_state(self) -> None:
        """Forget the hidden state (start a new sequence)."""
        self.h = None

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        pre = self.x2h(x)
        h_new = F.tanh(pre if self.h is None else pre + self.h2h(self.h))
        self.h = h_new
        return h_new


@final
class LSTM(Layer[[Variable | Arr], Variable]):
    """LSTM step with forget, input and output gates; hidden state ``h`` and cell ``c`` persist
    between calls until :meth:`reset_state`. x: (N, in_size) -> h: (N, hidden_size).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> lstm = L.LSTM(4)
        >>> [lstm(np.ones((2, 3))).shape for _ in range(3)]
        [(2, 4), (2, 4), (2, 4)]
        >>> lstm.c is not None
        True
    """

    h: Variable | None
    c: Variable | None

    @typechecked
    def __init__(
        self, hidden_size: int, in_size: int | None = None, *, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        check_positive("LSTM", hidden_size=hidden_size, in_size=in_size)
        H = hidden_size
        self.x2f = Linear(H, in_size=in_size, rng=rng)
        self.x2i = Linear(H, in_size=in_size, rng=rng)
        self.x2o = Linear(H, in_size=in_size, rng=rng)
        self.x2u = Linear(H, in_size=in_size, rng=rng)
        self.h2f = Linear(H, in_size=H, nobias=True, rng=rng)
        self.h2i = Linear(H, in_size=H, nobias=True, rng=rng)
        self.h2o = Linear(H, in_size=H, nobias=True, rng=rng)
        self.h2u = Linear(H, in_size=H, nobias=True, rng=rng)
        self.h = None
        self.c = None

    def reset_state(self) -> None:
        """Forget the hidden state and the cell (start a new sequence)."""
        self.h = None
        self.c = None

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        x = to_variable("LSTM", x, "x")
        x_gates = (self.x2f, self.x2i, self.x2o, self.x2u)
        for layer in x_gates:
            layer.build(x)
        W_x = (self.x2f.W, self.x2i.W, self.x2o.W, self.x2u.W)
        W_h = (self.h2f.W, self.h2i.W, self.h2o.W, self.h2u.W)
        b = (_bias(self.x2f), _bias(self.x2i), _bias(self.x2o), _bias(self.x2u))
        h_new, c_new = F.lstm_step(x, self.h, self.c, W_x, b, W_h)
        self.h, self.c = h_new, c_new
        return h_new


def _bias(layer: Linear) -> Variable | Arr:
    """The layer's bias, or zeros (a constant) for a Linear built with ``nobias=True``."""
    return layer.b if layer.b is not None else np.zeros(layer.out_size)

# mypy: allow-untyped-defs, allow-incomplete-defs, allow-untyped-calls
# pyright: basic
# User Functions written the way the book writes them (subclasses of Function, no annotations), for
# the fault-injection tests: that code gets the same promises as typed code. Only these classes are
# untyped, which is why they live apart from the typed tests (as tests/book_style does).
"""DeZero-style user Functions: untyped ``forward``/``backward``, state stored on ``self``."""

import numpy as np

from typed_dezero import Function


class Cube(Function):
    """x**3, its gradient from ``self.inputs``."""

    def forward(self, x):
        return x**3

    def backward(self, gy):
        (x,) = self.inputs
        return 3.0 * x**2 * gy


class Mul(Function):
    """Two inputs."""

    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.inputs
        return gy * x1, gy * x0


class MaskedRelu(Function):
    """ReLU that keeps its mask on ``self`` for backward, as DeZero's own ReLU-like code does."""

    def forward(self, x):
        self.mask = (x > 0.0).astype(np.float64)
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask


class Stash(Function):
    """Stores an intermediate in forward and reads it back later in the same forward (many times,
    so that another thread calling the same instance gets its chance to overwrite it)."""

    def forward(self, x):
        self.t = x * 2.0
        total = np.zeros_like(x)
        for k in range(20):
            total = total + np.sin(self.t + k)
        return total + self.t

    def backward(self, gy):
        raise NotImplementedError

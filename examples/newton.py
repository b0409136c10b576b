"""Newton's method with second derivatives from double backprop (DeZero steps 29-33).

Minimises f(x) = x^4 - 2x^2 from x = 2; each step divides the first derivative by the second,
both computed by typed_dezero (``backward(create_graph=True)`` keeps the first derivative
differentiable). Run: ``python -m examples.newton``.
"""

from __future__ import annotations

import argparse

import numpy as np

from typed_dezero import Variable


def f(x: Variable) -> Variable:
    return x**4 - 2 * x**2


def newton(x0: float, iters: int) -> list[float]:
    """The iterates of Newton's method on `f`, starting at `x0`."""
    x = Variable(np.array(x0))
    path = [x0]
    for _ in range(iters):
        y = f(x)
        x.cleargrad()
        y.backward(create_graph=True)
        gx = x.grad
        assert gx is not None  # backward always sets the leaf's gradient
        x.cleargrad()
        gx.backward()
        gx2 = x.grad
        assert gx2 is not None
        x.data -= gx.data / gx2.data
        path.append(float(x.data))
    return path


def main(argv: list[str] | None = None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--x0", type=float, default=2.0)
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args(argv)
    path = newton(args.x0, args.iters)
    for i, value in enumerate(path):
        print(i, value)
    return path


if __name__ == "__main__":
    main()

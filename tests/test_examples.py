"""Every example runs (in a short mode) and does what its docstring says."""

from __future__ import annotations

import pytest

from examples import newton


def test_newton_converges_to_the_minimum(capsys: pytest.CaptureFixture[str]) -> None:
    path = newton.main(["--iters", "7"])
    assert path[0] == 2.0
    assert abs(path[-1] - 1.0) < 1e-10
    assert capsys.readouterr().out.splitlines()[0] == "0 2.0"

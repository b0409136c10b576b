"""detect_anomaly() on more Functions (log of 0, division by zero, exp overflow, a user Function
whose backward makes NaN), nothing recorded when it fails, and no work at all while it is off.
(tests/core/test_anomaly.py holds the basics: messages, propagation of existing NaN, threads.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.core.function as function_module
import typed_dezero.core.variable as variable_module
import typed_dezero.functions as F
from typed_dezero import Arr, Function, UnaryFunction, Variable, detect_anomaly, no_grad
from typed_dezero.errors import AnomalyError

from .harness import COUNTS, function_spy


@pytest.fixture(autouse=True)
def _quiet_float_errors() -> Iterator[None]:
    # These tests make NaN and Inf on purpose; NumPy's own warnings would fire first.
    with np.errstate(all="ignore"):
        yield


def v(*values: float) -> Variable:
    return Variable(np.array(values, dtype=np.float64))


FORWARD_FAULTS: Final[list[tuple[str, Callable[[], Variable], str]]] = [
    ("log of 0", lambda: F.log(v(1.0, 0.0)), "Log"),
    ("log of a negative number", lambda: F.log(v(-1.0)), "Log"),
    ("division by a zero constant", lambda: v(1.0, 2.0) / 0.0, "DivConst"),
    ("division by a zero array", lambda: v(1.0, 2.0) / v(0.0, 1.0), "Div"),
    ("a number divided by zero", lambda: 1.0 / v(0.0), "RDivConst"),
    ("exp overflow", lambda: F.exp(v(1000.0)), "Exp"),
    ("square overflow", lambda: F.square(v(1e200)), "Square"),
    ("sum overflow", lambda: F.sum(v(1e308, 1e308)), "Sum"),
    ("matmul overflow", lambda: F.matmul(v(1e200, 1e200), v(1e200, 1e200)), "MatMul"),
    ("sqrt of a negative number", lambda: F.sqrt(v(-4.0)), "Sqrt"),
    ("a negative base to a fractional power", lambda: v(-8.0) ** (1.0 / 3.0), "PowConst"),
    ("0 to a negative power", lambda: v(0.0) ** -1.0, "PowConst"),
]


@pytest.mark.parametrize(("fault", "make", "name"), FORWARD_FAULTS, ids=[f[0] for f in FORWARD_FAULTS])
def test_forward_faults_are_caught_and_leave_no_graph(
    fault: str, make: Callable[[], Variable], name: str
) -> None:
    COUNTS["faults"] += 1
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        make()
    assert f"{name}.forward produced NaN or Inf from finite inputs" in str(info.value), fault
    assert "test_anomaly_detection.py" in str(info.value)  # the user's line
    with function_spy() as called, detect_anomaly(), pytest.raises(AnomalyError):
        make()
    assert called  # the spy saw the failing Function...
    assert [ref() for ref in called if ref() is not None] == []  # ...which nothing keeps alive


@pytest.mark.parametrize(("fault", "make", "name"), FORWARD_FAULTS, ids=[f[0] for f in FORWARD_FAULTS])
def test_the_same_faults_pass_silently_without_detect_anomaly(
    fault: str, make: Callable[[], Variable], name: str
) -> None:
    y = make()
    assert not np.isfinite(y.data).all(), fault
    assert y.creator is not None
    assert type(y.creator).__name__ == name
    assert y.creator.created_at is None


def test_forward_checks_apply_under_no_grad_too() -> None:
    with detect_anomaly(), no_grad(), pytest.raises(AnomalyError, match=r"Log\.forward"):
        F.log(v(0.0))


class NaNGradient(UnaryFunction):
    """A user Function with a finite forward and a backward that makes NaN from finite values."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * 2.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy * Variable(np.full(gy.shape, np.nan))


class NaNGradientData(UnaryFunction):
    """The same fault in the first-order fast path (backward_data, on arrays)."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * 2.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy * 2.0

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * np.nan


class InfForward(UnaryFunction):
    """A user Function whose forward overflows."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * np.inf

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy


@pytest.mark.parametrize(
    ("cls", "create_graph"), [(NaNGradient, False), (NaNGradient, True), (NaNGradientData, False)]
)
def test_a_user_functions_nan_gradient_is_caught(cls: type[Function], create_graph: bool) -> None:
    COUNTS["faults"] += 1
    x = v(1.0, 2.0)
    with detect_anomaly():
        y = F.sum(cls()(x))  # the creation site the message must show
        with pytest.raises(AnomalyError) as info:
            y.backward(create_graph=create_graph)
    message = str(info.value)
    assert f"backward of {cls.__name__} (input shapes (2,)), created at" in message
    assert "y = F.sum(cls()(x))  # the creation site the message must show" in message
    assert x.grad is None  # the fault is caught before it reaches the leaf


def test_a_user_functions_inf_forward_is_caught() -> None:
    with detect_anomaly(), pytest.raises(AnomalyError, match=r"InfForward.forward produced NaN or Inf"):
        InfForward()(v(1.0))


def test_the_flags_are_restored_after_an_anomaly_in_backward() -> None:
    x = v(1.0)
    with detect_anomaly():
        y = NaNGradient()(x)
        with pytest.raises(AnomalyError):
            y.backward()
        z = F.exp(x)  # recording and checking again after the failed backward
    assert z.creator is not None
    assert z.creator.created_at is not None


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of the calls of the anomaly machinery (creation sites, forward and backward checks)."""
    calls = {"creation_site": 0, "check_forward": 0, "check_backward": 0}

    def count(module: object, name: str) -> None:
        real: Callable[..., object] = getattr(module, name)

        def spy(*args: object) -> object:
            calls[name] += 1
            return real(*args)

        monkeypatch.setattr(module, name, spy)

    count(function_module, "creation_site")
    count(function_module, "check_forward")
    count(variable_module, "check_backward")
    return calls


def _train_step() -> None:
    x = Variable(np.random.default_rng(0).standard_normal((4, 3)))
    W = Variable(np.random.default_rng(1).standard_normal((3, 2)))
    loss = F.sum(F.tanh(F.matmul(x, W)) ** 2)
    loss.backward()
    gx = x.grad
    assert gx is not None
    x.cleargrad()
    loss2 = F.sum(F.exp(x) * x)
    loss2.backward(create_graph=True)


def test_anomaly_mode_costs_nothing_when_off(spies: dict[str, int]) -> None:
    _train_step()
    assert spies == {"creation_site": 0, "check_forward": 0, "check_backward": 0}


def test_anomaly_mode_checks_every_step_when_on(spies: dict[str, int]) -> None:
    with detect_anomaly():
        _train_step()
    assert spies["creation_site"] > 0
    assert spies["check_forward"] == spies["creation_site"]
    assert spies["check_backward"] > 0


def test_overflow_in_gradient_accumulation_is_caught() -> None:
    x = v(1e-10)
    with detect_anomaly():
        y = x * 1e308 + x * 1e308  # finite forward; each branch's gradient is 1e308, their sum inf
        with pytest.raises(AnomalyError):
            y.backward()


class _Huge(Function):
    """x * 1e308 with no backward_data: its gradients take the Variable path of backward."""

    def forward(self, *xs: Any) -> Any:
        return xs[0] * 1e308

    def backward(self, *gys: Any) -> Any:
        return gys[0] * 1e308


def test_overflow_in_gradient_accumulation_is_caught_on_the_variable_path_too() -> None:
    x = v(1e-10)
    with detect_anomaly():
        y = _Huge()(x) + _Huge()(x)
        with pytest.raises(AnomalyError, match="summing the finite gradients"):
            y.backward()
    assert x.grad is None  # and nothing was written

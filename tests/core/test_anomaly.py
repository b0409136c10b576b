"""detect_anomaly(): NaN/Inf from finite values raise AnomalyError naming the Function and the line."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import typed_dezero
import typed_dezero.functions as F
from typed_dezero import Variable
from typed_dezero.config import detect_anomaly, flags
from typed_dezero.errors import AnomalyError, DezeroError


@pytest.fixture(autouse=True)
def _quiet_float_errors() -> Iterator[None]:
    # These tests make NaN and Inf on purpose; NumPy's own warnings would fire first.
    with np.errstate(all="ignore"):
        yield


def test_forward_anomaly_names_the_function_shapes_and_line() -> None:
    x = Variable(np.array([1.0, -1.0]))
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        F.log(x)  # the line the error must point at
    message = str(info.value)
    assert "Log.forward produced NaN or Inf from finite inputs (shapes (2,))" in message
    assert "test_anomaly.py" in message
    assert "F.log(x)  # the line the error must point at" in message
    assert isinstance(info.value, FloatingPointError)
    assert isinstance(info.value, DezeroError)


def test_backward_anomaly_names_where_the_function_was_created() -> None:
    x = Variable(np.array([0.0, 4.0]))
    with detect_anomaly():
        y = F.sqrt(x)  # finite forward, infinite gradient at 0
        with pytest.raises(AnomalyError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "backward of Sqrt (input shapes (2,)), created at" in message
    assert "y = F.sqrt(x)  # finite forward, infinite gradient at 0" in message


def test_backward_anomaly_through_the_graph_path_too() -> None:
    x = Variable(np.array([0.0, 4.0]))
    with detect_anomaly():
        y = F.sqrt(x)
        with pytest.raises(AnomalyError, match="backward of Sqrt"):
            y.sum().backward(create_graph=True)


def test_no_checks_when_off() -> None:
    assert flags().detect_anomaly is False
    y = F.log(Variable(np.array([-1.0])))
    assert np.isnan(y.data).all()
    assert y.creator is not None
    assert y.creator.created_at is None


def test_propagating_existing_nan_is_not_an_anomaly() -> None:
    x = Variable(np.array([np.nan, 1.0]))
    with detect_anomaly():
        y = F.exp(x) * 2.0
        y.sum().backward()
    assert x.grad is not None
    assert np.isnan(x.grad.data[0])


def test_anomaly_mode_is_per_thread() -> None:
    seen: list[bool] = []
    with detect_anomaly():
        worker = threading.Thread(target=lambda: seen.append(flags().detect_anomaly))
        worker.start()
        worker.join(timeout=10)
    assert seen == [False]


def test_functions_record_their_creation_site_only_in_anomaly_mode() -> None:
    x = Variable(np.array([1.0]))
    with detect_anomaly():
        y = F.exp(x)
    assert y.creator is not None
    assert y.creator.created_at is not None
    assert "test_anomaly.py" in y.creator.created_at


def test_a_script_in_a_sibling_folder_named_like_the_package_is_user_code(tmp_path: Path) -> None:
    # typed_dezero_scripts/ sits beside typed_dezero/ and its path starts with the package's path:
    # only a comparison of path components tells them apart.
    package = Path(typed_dezero.__file__).resolve().parent
    script = package.parent / f"{package.name}_scripts" / "train.py"
    source = "import numpy as np\nimport typed_dezero.functions as F\nF.log(np.array([-1.0]))\n"
    code = compile(source, str(script), "exec")
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        exec(code, {})
    message = str(info.value)
    assert f"called at {script}:3" in message
    assert "unknown place" not in message

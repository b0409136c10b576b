"""The exception hierarchy: every class is a DezeroError and the builtin it promises, and the library
raises these classes (not bare builtins) for its documented failures."""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero
import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import UnaryFunction, Variable, detect_anomaly, errors
from typed_dezero._checking import TypeCheckError
from typed_dezero._io import load_npz
from typed_dezero._typing import Arr
from typed_dezero.datasets import MNIST
from typed_dezero.errors import (
    AnomalyError,
    DezeroError,
    DezeroIndexError,
    DezeroTypeError,
    DezeroValueError,
    DownloadError,
    GraphError,
    ShapeError,
    WeightsFileError,
)
from typed_dezero.functions.math import Exp
from typed_dezero.layers import UninitializedParameterError
from typed_dezero.onnx import UnsupportedFunctionError
from typed_dezero.optimizers import SGD
from typed_dezero.utils.dot import GraphvizError, GraphvizNotFoundError

from .harness import COUNTS

PROMISES: Final[dict[type[DezeroError], tuple[type[BaseException], ...]]] = {
    DezeroTypeError: (TypeError,),
    DezeroValueError: (ValueError,),
    ShapeError: (DezeroValueError, ValueError),
    DezeroIndexError: (IndexError, LookupError),
    WeightsFileError: (DezeroValueError, ValueError),
    DownloadError: (OSError,),
    GraphError: (RuntimeError,),
    AnomalyError: (FloatingPointError, ArithmeticError),
    UninitializedParameterError: (AttributeError,),
    GraphvizError: (RuntimeError,),
    GraphvizNotFoundError: (GraphvizError, RuntimeError),
    TypeCheckError: (DezeroTypeError, TypeError),
    UnsupportedFunctionError: (TypeError,),
}
"""Each exception class of the library and the builtins (or library classes) it also is."""


def _all_subclasses(cls: type[DezeroError]) -> set[type[DezeroError]]:
    found: set[type[DezeroError]] = set()
    stack = [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub.__module__.startswith("typed_dezero") and sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def test_every_exception_class_of_the_package_is_listed_here() -> None:
    for module in pkgutil.walk_packages(typed_dezero.__path__, "typed_dezero."):
        importlib.import_module(module.name)
    assert _all_subclasses(DezeroError) == set(PROMISES)
    assert {getattr(errors, name) for name in errors.__all__} == {DezeroError} | {
        cls for cls in PROMISES if cls.__module__ == "typed_dezero.errors"
    }


@pytest.mark.parametrize("cls", list(PROMISES), ids=[c.__name__ for c in PROMISES])
def test_each_class_is_a_dezero_error_and_the_builtin_it_promises(cls: type[DezeroError]) -> None:
    error = cls("what went wrong")
    assert isinstance(error, DezeroError)
    for base in PROMISES[cls]:
        assert isinstance(error, base)
    # Callers catching the builtin catch it; the message and the class survive pickling (processes).
    with pytest.raises(PROMISES[cls][0], match="what went wrong"):
        raise error
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert str(copy) == "what went wrong"


def _float32() -> object:
    return Variable(np.ones(2, dtype=np.float32))  # pyright: ignore[reportArgumentType]


def _twice() -> object:
    f = Exp()
    f(np.ones(1))
    return f(np.ones(1))


class Broken(UnaryFunction):
    """A user Function whose backward returns a gradient of the wrong shape."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * 2.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return Variable(np.ones(5))


def _broken_backward() -> object:
    y = Broken()(np.ones(2))
    y.backward()
    return y


def _anomaly() -> object:
    with detect_anomaly():
        return F.log(np.zeros(1))


def _uninitialized() -> object:
    return L.Linear(3).W


def _before_setup() -> object:
    SGD().update()
    return None


def _garbage_weights(tmp_path: Path) -> object:
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"not a zip archive at all")
    return load_npz(path)


def _closed_port() -> int:
    with socket.socket() as s:  # bound, never listening: connections are refused at once
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _download(tmp_path: Path) -> object:
    return MNIST(root=tmp_path / "mnist", download=True, url=f"http://127.0.0.1:{_closed_port()}/")


DOCUMENTED: Final[list[tuple[str, Callable[[Path], object], type[DezeroError], str]]] = [
    (
        "float32 data",
        lambda _: _float32(),
        DezeroTypeError,
        r"Variable: data must be a numpy.ndarray of dtype float64",
    ),
    (
        "shapes that do not broadcast",
        lambda _: F.add(np.ones(2), np.ones(3)),
        ShapeError,
        r"add: shapes do not broadcast",
    ),
    (
        "index out of range",
        lambda _: F.get_item(np.ones(2), 5),
        DezeroIndexError,
        r"get_item: index 5 does not fit",
    ),
    (
        "dropout ratio",
        lambda _: F.dropout(np.ones(2), 1.5),
        DezeroValueError,
        r"dropout: dropout_ratio must be in \[0, 1\)",
    ),
    ("a Function called twice", lambda _: _twice(), GraphError, r"Exp instance was already called"),
    (
        "a gradient of the wrong shape",
        lambda _: _broken_backward(),
        ShapeError,
        r"Broken.backward returned a gradient of shape \(5,\)",
    ),
    ("log(0) under detect_anomaly", lambda _: _anomaly(), AnomalyError, r"Log.forward produced NaN or Inf"),
    (
        "a lazy parameter read early",
        lambda _: _uninitialized(),
        UninitializedParameterError,
        r"Linear.W is created",
    ),
    ("update before setup", lambda _: _before_setup(), GraphError, r"SGD.update: no target"),
    ("a corrupt weights file", _garbage_weights, WeightsFileError, r"is not a readable .npz weights file"),
    ("a failed download", _download, DownloadError, r"MNIST: downloading http://127.0.0.1:\d+/.* failed"),
]


@pytest.mark.parametrize(("failure", "call", "cls", "match"), DOCUMENTED, ids=[d[0] for d in DOCUMENTED])
def test_documented_failures_raise_the_library_classes(
    tmp_path: Path, failure: str, call: Callable[[Path], object], cls: type[DezeroError], match: str
) -> None:
    COUNTS["faults"] += 1
    with pytest.raises(cls, match=match) as info, np.errstate(all="ignore"):
        call(tmp_path)
    assert isinstance(info.value, DezeroError), failure
    assert list(tmp_path.rglob("*.part")) == []  # a failed download leaves no partial file

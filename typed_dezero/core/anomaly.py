"""Anomaly detection (``detect_anomaly()``): where each Function was created, and NaN/Inf checks of
forward results and gradients. Only called while the flag is on."""

from __future__ import annotations

import inspect
import linecache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from typed_dezero._typing import Arr
from typed_dezero.errors import AnomalyError

if TYPE_CHECKING:
    from typed_dezero.core.function import Function

__all__ = ["check_accumulation", "check_backward", "check_forward", "creation_site"]

_PACKAGE = Path(__file__).resolve().parents[1]


def creation_site() -> str:
    """``file:line: source`` of the innermost caller outside typed_dezero (the user's line)."""
    frame = inspect.currentframe()
    while frame is not None and _is_library_frame(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:  # called from typed_dezero itself, with no user code on the stack
        return "an unknown place"
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    source = linecache.getline(filename, lineno).strip()
    return f"{filename}:{lineno}: {source}" if source else f"{filename}:{lineno}"


def _is_library_frame(filename: str) -> bool:
    # beartype's wrappers have pseudo file names such as "<@beartype(typed_dezero...) at 0x...>".
    # Path components, not a string prefix: a sibling folder typed_dezero_scripts/ is user code.
    return filename.startswith("<@beartype(") or Path(filename).resolve().is_relative_to(_PACKAGE)


def _all_finite(arrays: list[Arr]) -> bool:
    return all(bool(np.isfinite(a).all()) for a in arrays)


def _describe(f: Function[Any, Any]) -> str:
    shapes = ", ".join(str(x.shape) for x in f.inputs)
    site = f.created_at or "an unknown place (created outside detect_anomaly)"
    return f"{type(f).__name__} (input shapes {shapes}), created at {site}"


def check_forward(f: Function[Any, Any], inputs: list[Arr], outputs: list[Arr]) -> None:
    """Raise AnomalyError when `f` turned finite inputs into a non-finite output."""
    if not _all_finite(outputs) and _all_finite(inputs):
        shapes = ", ".join(str(a.shape) for a in inputs)
        site = f.created_at or creation_site()
        msg = (
            f"{type(f).__name__}.forward produced NaN or Inf from finite inputs (shapes {shapes}), "
            f"called at {site}"
        )
        raise AnomalyError(msg)


def check_backward(f: Function[Any, Any], output_grads: list[Arr], input_grads: list[Arr]) -> None:
    """Raise AnomalyError when `f`'s backward produced a non-finite gradient although its inputs and
    output gradients were all finite (a NaN already in the values merely propagates)."""
    if not _all_finite(input_grads) and _all_finite(output_grads) and _all_finite([x.data for x in f.inputs]):
        msg = f"backward of {_describe(f)} produced a NaN or Inf gradient from finite values"
        raise AnomalyError(msg)


def check_accumulation(f: Function[Any, Any], old: Arr, added: Arr, total: Arr) -> None:
    """Raise AnomalyError when adding finite gradients that reach one Variable along several paths
    (the one from `f` last) gave NaN or Inf."""
    if not _all_finite([total]) and _all_finite([old, added]):
        msg = (
            f"summing the finite gradients that reach a Variable of shape {old.shape} along several paths "
            f"gave NaN or Inf, adding the gradient from the backward of {_describe(f)}"
        )
        raise AnomalyError(msg)

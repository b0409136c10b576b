"""typed_dezero's exceptions.

Every class subclasses :class:`DezeroError` *and* the builtin exception callers already catch, so both
``except DezeroError`` and ``except TypeError`` (or ``ValueError`` / ``RuntimeError``) work.
"""

from __future__ import annotations

__all__ = [
    "AnomalyError",
    "DezeroError",
    "DezeroIndexError",
    "DezeroTypeError",
    "DezeroValueError",
    "DownloadError",
    "GraphError",
    "ShapeError",
    "WeightsFileError",
]


class DezeroError(Exception):
    """Base class of every error typed_dezero raises on purpose."""


class DezeroTypeError(DezeroError, TypeError):
    """A value of the wrong type or dtype (also what a runtime type-check violation raises)."""


class DezeroValueError(DezeroError, ValueError):
    """A value of the right type but a wrong value (out of range, NaN where it is not allowed, ...)."""


class ShapeError(DezeroValueError):
    """Arrays whose shapes do not fit the operation."""


class DezeroIndexError(DezeroError, IndexError):
    """An index out of range in ``get_item`` (an IndexError, so iteration stops as Python expects)."""


class WeightsFileError(DezeroValueError):
    """A weights file (.npz or .safetensors) that is truncated, corrupt, not in the format it claims,
    or holds unsupported data."""


class DownloadError(DezeroError, OSError):
    """A dataset file could not be downloaded, or its SHA-256 digest did not match (no file is left)."""


class GraphError(DezeroError, RuntimeError):
    """A misuse of the computational graph (a Function instance called twice, ...)."""


class AnomalyError(DezeroError, FloatingPointError):
    """Under ``detect_anomaly()``: a forward or backward turned finite values into NaN or Inf."""

"""Per-sample transforms for datasets: Compose, Normalize, Flatten, AsType, ToFloat, ToInt.

A transform is a callable taking one sample (a NumPy array) and returning a new one. What
:class:`typed_dezero.datasets.Dataset` accepts as ``transform`` is a :data:`Transform`: a float64
array in, a float64 array out. The classes here check their input and name themselves in errors.
DeZero's PIL-based transforms (Convert, Resize, CenterCrop, ToArray, ToPIL) are not provided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeAlias, TypeVar, final, overload

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, describe, is_f64_array
from typed_dezero.errors import DezeroTypeError, DezeroValueError, ShapeError

__all__ = ["AsType", "Compose", "Flatten", "Normalize", "ToFloat", "ToInt", "Transform"]

Transform: TypeAlias = Callable[[Arr], Arr]
"""A per-sample transform of float64 data: what ``Dataset(transform=...)`` and ``Compose`` accept."""

_ScalarT = TypeVar("_ScalarT", bound=np.generic)

# Real numbers and booleans: the kinds a cast between them is well defined for.
_REAL_KINDS = frozenset("biuf")


def _array_kind(x: object) -> str | None:
    """The dtype kind of a NumPy ndarray, None for anything else."""
    kind: object = getattr(getattr(x, "dtype", None), "kind", None)
    if isinstance(kind, str) and isinstance(x, np.ndarray):
        return kind
    return None


def _require_f64(what: str, x: object, advice: str = "") -> None:
    if not is_f64_array(x):
        msg = f"{what} must be a float64 numpy.ndarray, got {describe(x)}{advice}"
        raise DezeroTypeError(msg)


def _is_callable(x: object) -> bool:
    return callable(x)


class Compose:
    """Apply transforms one after the other: ``Compose([f, g])(x) == g(f(x))``.

    Arguments:
        transforms: a sequence of :data:`Transform` callables, applied in order; None or empty
            for the identity. The sequence is copied, so later changes to it have no effect.

    Raises ``TypeError`` for an item that is not callable, and when a step returns anything but
    a float64 array (naming the step).

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.transforms import Compose, Flatten, Normalize
        >>> pipeline = Compose([Flatten(), Normalize(0.0, 255.0)])
        >>> pipeline(np.full((1, 2, 2), 255.0))
        array([1., 1., 1., 1.])
        >>> pipeline
        Compose([Flatten(), Normalize(mean=0.0, std=255.0)])
    """

    @typechecked
    def __init__(self, transforms: Sequence[Transform] | None = None) -> None:
        steps: tuple[Transform, ...] = () if transforms is None else tuple(transforms)
        for i, step in enumerate(steps):
            if not _is_callable(step):
                msg = f"Compose: transforms[{i}] must be callable, got {describe(step)}"
                raise DezeroTypeError(msg)
        self._transforms = steps

    @property
    def transforms(self) -> tuple[Transform, ...]:
        """The steps, in the order they run."""
        return self._transforms

    def __call__(self, x: Arr, /) -> Arr:
        """Run every step on `x` (a float64 array) and return the last result."""
        _require_f64("Compose: input", x)
        for i, step in enumerate(self._transforms):
            y: object = step(x)
            if not is_f64_array(y):
                msg = (
                    f"Compose: step {i} ({step!r}) must return a float64 numpy.ndarray, got {describe(y)}; "
                    "transforms that change the dtype (ToInt, AsType) belong at the end of a pipeline "
                    "that is not a Dataset's transform"
                )
                raise DezeroTypeError(msg)
            x = y
        return x

    def __len__(self) -> int:
        return len(self._transforms)

    @override
    def __repr__(self) -> str:
        return f"Compose([{', '.join(repr(t) for t in self._transforms)}])"


def _channel_values(name: str, value: float | Sequence[float] | Arr) -> Arr:
    """`mean` or `std` as a float64 array: 0-d for a scalar, 1-d for per-channel values."""
    msg = f"Normalize: {name} must be a number or a sequence of numbers, got {describe(value)}"
    try:
        given = np.asarray(value)
    except ValueError as e:  # ragged nested sequences
        raise DezeroTypeError(msg) from e
    if given.dtype.kind not in "iuf":
        raise DezeroTypeError(msg)
    arr = given.astype(np.float64)
    if arr.ndim > 1 or arr.size == 0:
        msg = f"Normalize: {name} must be a number or a non-empty 1-d sequence, got shape {arr.shape}"
        raise ShapeError(msg)
    if not np.all(np.isfinite(arr)):
        msg = f"Normalize: {name} must be finite, got {arr.tolist()}"
        raise DezeroValueError(msg)
    # A one-element sequence applies to every channel, as in DeZero.
    return arr.reshape(()) if arr.size == 1 else arr


@final
class Normalize:
    """``(x - mean) / std``, with scalar or per-channel `mean` and `std` (channels on the first axis).

    Arguments:
        mean: a number, or one value per channel (a sequence or a 1-d float64 array).
        std: a positive number, or one positive value per channel.

    Per-channel values need a sample of shape ``(C, ...)`` with ``C`` values (``ShapeError``
    otherwise). Input must be a float64 array: put ``ToFloat()`` before ``Normalize`` for other dtypes.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.transforms import Normalize
        >>> per_channel = Normalize(mean=[0.5, 1.0], std=2.0)
        >>> per_channel(np.ones((2, 1, 2)))  # channels first: (C, H, W)
        array([[[0.25, 0.25]],
        <BLANKLINE>
               [[0.  , 0.  ]]])
    """

    @typechecked
    def __init__(
        self, mean: float | Sequence[float] | Arr = 0.0, std: float | Sequence[float] | Arr = 1.0
    ) -> None:
        self._mean = _channel_values("mean", mean)
        self._std = _channel_values("std", std)
        if not np.all(self._std > 0.0):
            msg = f"Normalize: std must be positive, got {self._std.tolist()}"
            raise DezeroValueError(msg)
        if self._mean.ndim == self._std.ndim == 1 and self._mean.shape != self._std.shape:
            msg = (
                "Normalize: per-channel mean and std must have the same length; "
                f"got {self._mean.size} means and {self._std.size} stds"
            )
            raise ShapeError(msg)

    @property
    def mean(self) -> Arr:
        """The mean: a 0-d array, or a 1-d array with one value per channel."""
        return self._mean.copy()

    @property
    def std(self) -> Arr:
        """The standard deviation: a 0-d array, or a 1-d array with one value per channel."""
        return self._std.copy()

    def _per_sample(self, name: str, value: Arr, x: Arr) -> Arr:
        if value.ndim == 0:
            return value
        if x.ndim == 0 or x.shape[0] != value.size:
            msg = (
                f"Normalize: {value.size} per-channel {name} values need a sample of shape "
                f"({value.size}, ...) (channels first); got x.shape={x.shape}"
            )
            raise ShapeError(msg)
        return value.reshape((value.size,) + (1,) * (x.ndim - 1))

    def __call__(self, x: Arr, /) -> Arr:
        """Normalize one sample, a float64 array; returns a new array of the same shape."""
        _require_f64("Normalize: input", x, "; put ToFloat() before Normalize")
        mean = self._per_sample("mean", self._mean, x)
        std = self._per_sample("std", self._std, x)
        return np.asarray((x - mean) / std, dtype=np.float64)

    @override
    def __repr__(self) -> str:
        return f"Normalize(mean={self._mean.tolist()}, std={self._std.tolist()})"


@final
class Flatten:
    """Reshape a sample to 1-d (a copy, in C order); keeps the dtype. A 0-d sample becomes shape (1,).

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.transforms import Flatten
        >>> Flatten()(np.zeros((1, 28, 28), dtype=np.uint8)).shape
        (784,)
    """

    def __call__(self, x: npt.NDArray[_ScalarT], /) -> npt.NDArray[_ScalarT]:
        """Return ``x`` flattened."""
        if _array_kind(x) is None:
            msg = f"Flatten: input must be a numpy.ndarray, got {describe(x)}"
            raise DezeroTypeError(msg)
        return x.flatten()

    @override
    def __repr__(self) -> str:
        return "Flatten()"


def _is_real_scalar_type(x: object) -> bool:
    return isinstance(x, type) and issubclass(x, (np.bool_, np.integer, np.floating))


def _is_integer_type(x: object) -> bool:
    return isinstance(x, type) and issubclass(x, np.integer)


class AsType(Generic[_ScalarT]):
    """Convert a sample to the NumPy scalar type `dtype` (float64 by default): ``AsType(np.float32)``.

    Input must be a real (bool, integer or floating) array. Casting floats to an integer type
    truncates toward zero, as ``astype`` does; NaN, infinities and values outside the target
    type's range raise ``ValueError`` instead of producing garbage.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.transforms import AsType
        >>> AsType(np.int8)(np.array([1.7, -1.7]))
        array([ 1, -1], dtype=int8)
        >>> AsType(np.int8)(np.array([300.0]))
        Traceback (most recent call last):
        ...
        typed_dezero.errors.DezeroValueError: AsType: values in [300.0, 300.0] do not fit in int8
    """

    @overload
    def __init__(self: AsType[np.float64]) -> None: ...
    @overload
    def __init__(self, dtype: type[_ScalarT]) -> None: ...
    @typechecked
    def __init__(self, dtype: type[Any] = np.float64) -> None:
        if not _is_real_scalar_type(dtype):
            msg = (
                f"{type(self).__name__}: dtype must be a real NumPy scalar type such as np.float64 or "
                f"np.int64, got {dtype!r}"
            )
            raise DezeroTypeError(msg)
        self._dtype: type[_ScalarT] = dtype

    @property
    def dtype(self) -> type[_ScalarT]:
        """The NumPy scalar type samples are converted to."""
        return self._dtype

    def __call__(self, x: npt.NDArray[Any], /) -> npt.NDArray[_ScalarT]:
        """Return a converted copy of the array `x`."""
        name = type(self).__name__
        kind = _array_kind(x)
        if kind not in _REAL_KINDS:
            msg = (
                f"{name}: input must be a numpy.ndarray of bool, integer or floating dtype, got {describe(x)}"
            )
            raise DezeroTypeError(msg)
        target = np.dtype(self._dtype)
        if target.kind != "b" and not np.can_cast(x.dtype, target, casting="safe"):
            self._check_range(x, target)
        return x.astype(self._dtype)

    def _check_range(self, x: npt.NDArray[Any], target: np.dtype[Any]) -> None:
        """Raise ValueError when some value of `x` has no counterpart in `target`."""
        name = type(self).__name__
        finite = np.isfinite(x) if x.dtype.kind == "f" else None
        if target.kind in "iu" and finite is not None and not np.all(finite):
            msg = f"{name}: cannot convert NaN or infinity to {target}"
            raise DezeroValueError(msg)
        values = x if finite is None else x[finite]  # NaN and infinities exist in every floating type
        if values.size == 0:
            return
        low: float = values.min().item()
        high: float = values.max().item()
        if target.kind == "f":
            largest = float(np.finfo(target).max)
            fits = -largest <= low and high <= largest
        else:
            info = np.iinfo(target)
            # Exact int/float comparisons; truncation toward zero maps (min - 1, max + 1) into range.
            fits = info.min - 1 < low and high < info.max + 1
        if not fits:
            msg = f"{name}: values in [{low}, {high}] do not fit in {target}"
            raise DezeroValueError(msg)

    @override
    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._dtype.__name__})"


@final
class ToFloat(AsType[np.float64]):
    """Convert a sample to float64 (DeZero's ToFloat converts to float32; typed_dezero is float64 only).

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.transforms import ToFloat
        >>> ToFloat()(np.array([0, 255], dtype=np.uint8))
        array([  0., 255.])
    """

    @typechecked
    def __init__(self) -> None:
        super().__init__(np.float64)

    @override
    def __repr__(self) -> str:
        return "ToFloat()"


@final
class ToInt(AsType[np.integer[Any]]):
    """Convert a sample (labels, typically) to an integer type, int64 by default; see :class:`AsType`.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.transforms import ToInt
        >>> ToInt()(np.array([2.0, 7.0]))
        array([2, 7])
    """

    @typechecked
    def __init__(self, dtype: type[np.integer[Any]] = np.int64) -> None:
        if not _is_integer_type(dtype):
            msg = f"ToInt: dtype must be a NumPy integer type such as np.int64, got {dtype!r}"
            raise DezeroTypeError(msg)
        super().__init__(dtype)

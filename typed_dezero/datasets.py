"""Datasets: the Dataset base class and DeZero's datasets (Spiral, SinCurve, MNIST) plus Digits.

A dataset holds float64 samples in ``data`` (first axis = samples) and per-sample labels in
``label``. ``Dataset`` is generic in the label type, one of ``IntArr`` (class indices), ``Arr``
(float64 targets) or ``None`` (unlabeled), so ``Spiral()[0]`` is typed ``tuple[Arr, IntArr]``.
No dataset touches NumPy's global random state: randomness comes from seeded local Generators.
"""

from __future__ import annotations

import gzip
import math
import os
import urllib.parse
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import (
    Any,
    ClassVar,
    Final,
    Generic,
    TypeAlias,
    TypeGuard,
    TypeVar,
    cast,
    final,
    get_args,
    get_origin,
)

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, IntArr, describe, is_f64_array, is_int, is_int_array
from typed_dezero.errors import (
    DezeroIndexError,
    DezeroTypeError,
    DezeroValueError,
    DownloadError,
    ShapeError,
)
from typed_dezero.transforms import Compose, Flatten, Normalize, ToFloat, Transform
from typed_dezero.utils.download import default_cache_dir, fetch

__all__ = [
    "MNIST",
    "MNIST_SHA256",
    "MNIST_TRANSFORM",
    "MNIST_URL",
    "Dataset",
    "Digits",
    "DownloadError",
    "LabelT",
    "SinCurve",
    "Spiral",
    "get_spiral",
]

LabelT = TypeVar("LabelT", bound=IntArr | Arr | None)
"""A dataset's label type: ``IntArr`` (class indices), ``Arr`` (float64 targets) or ``None``."""


class _AnyLabel:
    """The label kind of a Dataset subclass that does not fix its label type (stays generic)."""


_ANY_LABEL: Final = _AnyLabel()

_LabelRule: TypeAlias = type[np.generic] | _AnyLabel | None
"""What a Dataset subclass's labels must be at run time: arrays of a NumPy scalar type, None, anything."""


def _is_scalar_type(x: object) -> TypeGuard[type[np.generic]]:
    return isinstance(x, type) and issubclass(x, np.generic)


def _label_rule(type_arg: object) -> _LabelRule:
    """The run-time rule for the type argument of ``Dataset[...]``.

    None for ``Dataset[None]``, the NumPy scalar type for an array type (``np.integer`` for
    ``IntArr``, ``np.float64`` for ``Arr``), and ``_ANY_LABEL`` for a TypeVar or anything else.
    """
    if type_arg is None or type_arg is type(None):
        return None
    if get_origin(type_arg) is np.ndarray:
        array_args = get_args(type_arg)
        if len(array_args) == 2:
            dtype_args = get_args(array_args[1])
            if len(dtype_args) == 1:
                scalar: object = get_origin(dtype_args[0]) or dtype_args[0]
                if _is_scalar_type(scalar):
                    return scalar
    return _ANY_LABEL


def _label_kind_error(owner: str, rule: _LabelRule, label: object) -> str | None:
    """Why `label` (the labels or one sample's label) breaks the declared label type, or None."""
    if isinstance(rule, _AnyLabel):
        return None
    if rule is None:
        return None if label is None else f"{owner} is a Dataset[None], but the label is {describe(label)}"
    if label is None:
        return f"{owner} declares labels of dtype {rule.__name__}, but the label is None"
    if _is_label_array(label) and np.issubdtype(label.dtype, rule):
        return None
    return f"{owner} declares labels of dtype {rule.__name__}, got {describe(label)}"


def _is_label_array(x: object) -> TypeGuard[IntArr | Arr]:
    return is_int_array(x) or is_f64_array(x)


def _is_numpy_scalar(x: object) -> TypeGuard[np.generic[Any]]:
    return isinstance(x, np.generic)


def _scalar_to_array(value: object) -> object:
    """A NumPy scalar (what arithmetic on a 0-d array returns) as a 0-d array; else `value`."""
    return np.asarray(value) if _is_numpy_scalar(value) else value


class Dataset(ABC, Generic[LabelT]):
    """Base class of datasets: a subclass fills ``self.data`` and ``self.label`` in :meth:`prepare`.

    Subclass with the label type: ``class Pairs(Dataset[IntArr])``, ``Dataset[Arr]`` or
    ``Dataset[None]``. ``prepare()`` must set ``self.data`` to a float64 array whose first axis
    indexes samples, and ``self.label`` to an integer or float64 array with one entry per sample,
    or to None for unlabeled data (it must be set explicitly). The declared label type is checked
    at run time too.

    Arguments:
        train: which split to load (datasets with one split may ignore it).
        transform: applied to each sample on access; must return a float64 array. None: identity.
        target_transform: applied to each label on access. None: identity.

    ``dataset[i]`` returns ``(transform(data[i]), target_transform(label[i]))``, or
    ``(transform(data[i]), None)`` without labels; a label of a 1-d label array is a 0-d array.
    `i` must be an int (``TypeError`` otherwise, slices included), ``-len <= i < len``
    (``IndexError`` otherwise).

    Examples:
        >>> import numpy as np
        >>> from typed_dezero import IntArr
        >>> from typed_dezero.datasets import Dataset
        >>> class Parity(Dataset[IntArr]):
        ...     def prepare(self) -> None:
        ...         self.data = np.arange(10.0).reshape(5, 2)
        ...         self.label = np.array([0, 1, 0, 1, 0])
        >>> ds = Parity(transform=lambda x: x / 10.0)
        >>> len(ds), ds[1]
        (5, (array([0.2, 0.3]), array(1)))
        >>> class Wrong(Dataset[IntArr]):  # labels declared as integers, but float64 given
        ...     def prepare(self) -> None:
        ...         self.data = np.zeros((2, 2))
        ...         self.label = np.zeros(2)
        >>> Wrong()
        Traceback (most recent call last):
        ...
        typed_dezero.errors.DezeroTypeError: Wrong declares labels of dtype integer, got numpy.ndarray ...
    """

    _label_rule: ClassVar[_LabelRule] = _ANY_LABEL

    data: Arr
    label: LabelT

    @override
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bases: tuple[object, ...] = cls.__dict__.get("__orig_bases__", ())
        for base in bases:
            if get_origin(base) is Dataset:
                (arg,) = get_args(base)
                cls._label_rule = _label_rule(arg)

    @typechecked
    def __init__(
        self,
        train: bool = True,
        transform: Transform | None = None,
        target_transform: Callable[[LabelT], LabelT] | None = None,
    ) -> None:
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        self.prepare()
        self._check_prepared()

    @abstractmethod
    def prepare(self) -> None:
        """Set ``self.data`` and ``self.label`` (called once, by ``__init__``)."""

    def _check_prepared(self) -> None:
        name = type(self).__name__
        data: object = getattr(self, "data", None)
        if not is_f64_array(data) or data.ndim == 0:
            msg = (
                f"{name}.prepare() must set self.data to a float64 numpy.ndarray with samples on the "
                f"first axis, got {describe(data)}"
            )
            raise DezeroTypeError(msg)
        if not hasattr(self, "label"):
            msg = (
                f"{name}.prepare() must set self.label: an integer or float64 numpy.ndarray with one "
                "label per sample, or None for unlabeled data"
            )
            raise DezeroTypeError(msg)
        label: object = self.label
        if label is not None and not (_is_label_array(label) and label.ndim > 0):
            msg = (
                f"{name}.prepare() must set self.label to an integer or float64 numpy.ndarray with "
                f"samples on the first axis, or None; got {describe(label)}"
            )
            raise DezeroTypeError(msg)
        problem = _label_kind_error(name, self._label_rule, label)
        if problem is not None:
            raise DezeroTypeError(problem)
        if label is not None and len(label) != len(data):
            msg = f"{name}: data holds {len(data)} samples but label holds {len(label)}"
            raise ShapeError(msg)

    def _position(self, index: int | np.integer[Any]) -> int:
        if not (is_int(index) or isinstance(index, np.integer)):
            msg = f"{type(self).__name__}[index]: index must be an int, got {describe(index)}"
            raise DezeroTypeError(msg)
        i = int(index)
        n = len(self.data)
        if not -n <= i < n:
            msg = f"{type(self).__name__}[index]: index {i} is out of range for {n} samples"
            raise DezeroIndexError(msg)
        return i

    def __getitem__(self, index: int | np.integer[Any]) -> tuple[Arr, LabelT]:
        """The sample and label at `index`, both transformed."""
        i = self._position(index)
        x: Arr = self.data[i, ...]
        if self.transform is not None:
            y: object = _scalar_to_array(self.transform(x))
            if not is_f64_array(y):
                msg = (
                    f"{type(self).__name__}: transform {self.transform!r} must return a float64 "
                    f"numpy.ndarray, got {describe(y)}"
                )
                raise DezeroTypeError(msg)
            x = y
        label = self.label
        if label is None:
            return x, label
        # Indexing keeps the dtype, and _check_label_item vets what target_transform returns; the
        # stubs cannot follow either to the subclass's label type.
        t = cast(LabelT, label[i, ...])
        if self.target_transform is not None:
            out = _scalar_to_array(self.target_transform(t))
            self._check_label_item(out)
            t = cast(LabelT, out)
        return x, t

    def _check_label_item(self, t: object) -> None:
        name = type(self).__name__
        problem = _label_kind_error(name, self._label_rule, t)
        if problem is None and not _is_label_array(t):
            problem = f"{name}: labels must be integer or float64 numpy.ndarrays, got {describe(t)}"
        if problem is not None:
            msg = f"{problem} (returned by target_transform {self.target_transform!r})"
            raise DezeroTypeError(msg)

    def __len__(self) -> int:
        """The number of samples."""
        return len(self.data)

    def __iter__(self) -> Iterator[tuple[Arr, LabelT]]:
        """The (sample, label) pairs in order."""
        for i in range(len(self)):
            yield self[i]

    @override
    def __repr__(self) -> str:
        return f"{type(self).__name__}(train={self.train}, {len(self)} samples)"


# -- Spiral -------------------------------------------------------------------------------------


@typechecked
def get_spiral(train: bool = True) -> tuple[Arr, IntArr]:
    """DeZero's three-class spiral: 300 points ``x`` of shape (300, 2) and labels ``t`` 0..2 (300,).

    Class ``j``'s ``i``-th point (``i < 100``) has radius ``r = i / 100`` and angle
    ``4 j + 4 r + 0.2 n`` with ``n`` standard normal; ``x = (r sin(angle), r cos(angle))``. The
    points are then shuffled. The noise and the shuffle come from ``np.random.default_rng(1984)``
    for train and ``np.random.default_rng(2020)`` for test (DeZero's seeds, but NumPy's modern
    generator, so the points differ from DeZero's). ``x`` is float64, ``t`` int64.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.datasets import get_spiral
        >>> state = np.random.get_state()[1].copy()
        >>> x, t = get_spiral()
        >>> x.shape, x.dtype, np.bincount(t).tolist()
        ((300, 2), dtype('float64'), [100, 100, 100])
        >>> bool(np.array_equal(np.random.get_state()[1], state))  # NumPy's global state untouched
        True
    """
    rng = np.random.default_rng(1984 if train else 2020)
    num_data, num_class = 100, 3
    radius = np.arange(num_data) / num_data
    noise = rng.standard_normal((num_class, num_data))
    angle = 4.0 * np.arange(num_class)[:, np.newaxis] + 4.0 * radius + 0.2 * noise
    x = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=-1).reshape(-1, 2)
    t = np.repeat(np.arange(num_class, dtype=np.int64), num_data)
    order = rng.permutation(num_class * num_data)
    return np.asarray(x[order], dtype=np.float64), t[order]


@final
class Spiral(Dataset[IntArr]):
    """:func:`get_spiral` as a dataset: samples of shape (2,), int64 labels 0..2.

    Examples:
        >>> from typed_dezero.datasets import Spiral
        >>> train = Spiral()
        >>> train, train[0][0].shape, train[0][1].dtype
        (Spiral(train=True, 300 samples), (2,), dtype('int64'))
    """

    @override
    def prepare(self) -> None:
        self.data, self.label = get_spiral(self.train)


# -- SinCurve -----------------------------------------------------------------------------------

_SIN_CURVE_SEED: Final = 0


@final
class SinCurve(Dataset[Arr]):
    """DeZero's 1000-point curve for next-step prediction: sample ``y[k]``, label ``y[k + 1]``.

    ``y`` samples 1000 points of ``[0, 2 pi]``: ``sin`` plus uniform noise in [-0.05, 0.05) from
    ``np.random.default_rng(0)`` for train, ``cos`` for test. ``data`` and ``label`` have shape
    (999, 1), float64.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.datasets import SinCurve
        >>> test = SinCurve(train=False)
        >>> len(test), bool(np.array_equal(test.label[:-1], test.data[1:]))  # each label is the next sample
        (999, True)
    """

    @override
    def prepare(self) -> None:
        x = np.linspace(0.0, 2.0 * np.pi, 1000)
        if self.train:
            y = np.sin(x) + np.random.default_rng(_SIN_CURVE_SEED).uniform(-0.05, 0.05, size=x.shape)
        else:
            y = np.cos(x)
        curve = np.asarray(y, dtype=np.float64)
        self.data = curve[:-1].reshape(-1, 1).copy()
        self.label = curve[1:].reshape(-1, 1).copy()


# -- MNIST --------------------------------------------------------------------------------------

MNIST_URL: Final = "https://ossci-datasets.s3.amazonaws.com/mnist/"
"""Where MNIST downloads from by default (the mirror DeZero uses)."""

MNIST_SHA256: Final[Mapping[str, str]] = MappingProxyType(
    {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }
)
"""SHA-256 digests of the four gzipped MNIST files: every download is checked against them."""

MNIST_TRANSFORM: Final = Compose([Flatten(), ToFloat(), Normalize(0.0, 255.0)])
"""MNIST's default transform, as in DeZero: a (1, 28, 28) image to 784 values in [0, 1]."""

_MNIST_FILES: Final = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGE_SHAPE: Final = (28, 28)


def _default_root() -> Path:
    return default_cache_dir() / "mnist"


def _read_idx(path: Path, ndim: int) -> npt.NDArray[np.uint8]:
    """The array in an IDX file of unsigned bytes with `ndim` dimensions (gzipped or raw)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (gzip.BadGzipFile, EOFError, zlib.error) as e:
            msg = f"MNIST: {path} is not a valid gzip file ({e})"
            raise DezeroValueError(msg) from e
    header = 4 + 4 * ndim
    if len(raw) < header:
        msg = f"MNIST: {path} is truncated: {len(raw)} bytes, less than the {header}-byte IDX header"
        raise DezeroValueError(msg)
    magic = int.from_bytes(raw[:4], "big")
    expected = 0x0800 | ndim  # two zero bytes, 0x08 = unsigned byte data, then the dimension count
    if magic != expected:
        msg = (
            f"MNIST: {path} is not an IDX file of {ndim}-d unsigned bytes: magic number 0x{magic:08x}, "
            f"expected 0x{expected:08x}"
        )
        raise DezeroValueError(msg)
    dims = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    size = math.prod(dims)
    if len(raw) - header != size:
        msg = (
            f"MNIST: {path} is truncated or corrupt: its header declares shape {dims}, that is "
            f"{size} bytes of data, but the file holds {len(raw) - header}"
        )
        raise DezeroValueError(msg)
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _is_bool(x: object) -> bool:
    return type(x) is bool


def _is_mapping(x: object) -> bool:
    return isinstance(x, Mapping)


def _is_sha256(digest: object) -> bool:
    return isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


@final
class MNIST(Dataset[IntArr]):
    """The MNIST handwritten digits, read from the four standard IDX files in a local folder.

    ``data`` holds the images as float64 of shape (N, 1, 28, 28) with values 0..255 (60000 train
    or 10000 test images; the train set takes 376 MB), ``label`` the digits as int64 (N,). The
    default transform, as in DeZero, flattens each image and scales it to [0, 1] (784 values);
    pass ``transform=None`` for raw (1, 28, 28) images, or ``Normalize(0.0, 255.0)`` for scaled ones.

    Arguments:
        root: the folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or gzipped
            (``.gz``). Default: ``~/.typed_dezero/mnist``.
        download: fetch missing files (gzipped) from `url`; never happens otherwise.
        url: the base URL the file names are appended to.
        checksums: SHA-256 hex digests by file name; a download whose digest differs (or has no
            entry) is discarded.

    Raises ``FileNotFoundError`` when a file is missing and `download` is False, ``DownloadError``
    when a download fails, and ``ValueError`` (naming the file) for a corrupt or truncated file.

    Examples:
        Three blank test images written in the IDX format (a magic number ``0x0000080N`` for N
        dimensions, the N sizes as big-endian 32-bit ints, then the bytes):

        >>> import os, tempfile
        >>> import numpy as np
        >>> from typed_dezero.datasets import MNIST
        >>> def idx(array: np.ndarray) -> bytes:
        ...     sizes = b"".join(n.to_bytes(4, "big") for n in array.shape)
        ...     return (0x0800 | array.ndim).to_bytes(4, "big") + sizes + array.astype(np.uint8).tobytes()
        >>> with tempfile.TemporaryDirectory() as root:
        ...     with open(os.path.join(root, "t10k-images-idx3-ubyte"), "wb") as f:
        ...         _ = f.write(idx(np.zeros((3, 28, 28))))
        ...     with open(os.path.join(root, "t10k-labels-idx1-ubyte"), "wb") as f:
        ...         _ = f.write(idx(np.array([7, 2, 1])))
        ...     test = MNIST(train=False, root=root)
        >>> len(test), test[0][0].shape, test[0][1]
        (3, (784,), array(7))
    """

    @typechecked
    def __init__(
        self,
        train: bool = True,
        transform: Transform | None = MNIST_TRANSFORM,
        target_transform: Callable[[IntArr], IntArr] | None = None,
        *,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        url: str = MNIST_URL,
        checksums: Mapping[str, str] = MNIST_SHA256,
    ) -> None:
        # Hand-written checks guard the network: they hold with runtime type checking switched off.
        if not _is_bool(download):
            msg = f"MNIST: download must be True or False, got {describe(download)}"
            raise DezeroTypeError(msg)
        if not _is_mapping(checksums):
            msg = f"MNIST: checksums must map file names to SHA-256 digests, got {describe(checksums)}"
            raise DezeroTypeError(msg)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            msg = f"MNIST: url must be an http:// or https:// URL, got {url!r}"
            raise DezeroValueError(msg)
        for name, digest in checksums.items():
            if not _is_sha256(digest):
                msg = f"MNIST: checksums[{name!r}] must be 64 lowercase hex digits (SHA-256), got {digest!r}"
                raise DezeroValueError(msg)
        self.root = _default_root() if root is None else Path(root)
        self.download = download
        self.url = url if url.endswith("/") else url + "/"
        self.checksums: Mapping[str, str] = MappingProxyType(dict(checksums))
        super().__init__(train, transform, target_transform)

    def _locate(self, name: str) -> Path:
        """The raw or gzipped file `name` in root, downloaded first if missing and allowed."""
        raw = self.root / name
        gz = self.root / f"{name}.gz"
        for path in (raw, gz):
            if path.is_file():
                return path
        if not self.download:
            msg = (
                f"MNIST: neither {raw} nor {gz} exists; pass download=True to fetch {self.url}{gz.name}, "
                "or put the IDX files in that folder"
            )
            raise FileNotFoundError(msg)
        digest = self.checksums.get(gz.name)
        if digest is None:
            msg = f"MNIST: no SHA-256 digest for {gz.name} in checksums; downloads are always verified"
            raise DezeroValueError(msg)
        fetch("MNIST", self.url + gz.name, gz, digest, None)
        return gz

    @override
    def prepare(self) -> None:
        images_name, labels_name = _MNIST_FILES[self.train]
        images_path = self._locate(images_name)
        labels_path = self._locate(labels_name)
        images = _read_idx(images_path, 3)
        labels = _read_idx(labels_path, 1)
        if images.shape[1:] != _IMAGE_SHAPE:
            msg = f"MNIST: {images_path} holds images of shape {images.shape[1:]}, expected {_IMAGE_SHAPE}"
            raise DezeroValueError(msg)
        if len(images) != len(labels):
            msg = f"MNIST: {images_path} holds {len(images)} images but {labels_path} {len(labels)} labels"
            raise DezeroValueError(msg)
        if labels.size > 0 and int(labels.max()) > 9:
            msg = f"MNIST: {labels_path} holds label {int(labels.max())}; digits are 0..9"
            raise DezeroValueError(msg)
        self.data = images.reshape(-1, 1, *_IMAGE_SHAPE).astype(np.float64)
        self.label = labels.astype(np.int64)


# -- Digits -------------------------------------------------------------------------------------

_DIGITS_SEED: Final = 0


def _load_digits() -> tuple[Arr, IntArr]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        msg = (
            "Digits needs scikit-learn, which ships the data; install it with "
            "pip install 'typed-dezero[digits]'"
        )
        raise ModuleNotFoundError(msg, name="sklearn") from e
    images, digits = load_digits(return_X_y=True)
    return np.asarray(images, dtype=np.float64), np.asarray(digits, dtype=np.int64)


@final
class Digits(Dataset[IntArr]):
    """The 8x8 handwritten digits that ship with scikit-learn (1797 images), split 80/20.

    ``data`` has shape (N, 64), float64 pixels scaled to [0, 1] (value / 16); ``label`` the digits
    0..9 as int64 (N,). The split is fixed: ``np.random.default_rng(0).permutation(1797)`` orders
    the images; the first 1437 are the train split, the other 360 the test split.
    Needs scikit-learn (imported on first use only): ``pip install 'typed-dezero[digits]'``.
    """

    @override
    def prepare(self) -> None:
        images, digits = _load_digits()
        order = np.random.default_rng(_DIGITS_SEED).permutation(len(images))
        n_train = len(images) * 4 // 5
        chosen = order[:n_train] if self.train else order[n_train:]
        self.data = images[chosen] / 16.0
        self.label = digits[chosen]

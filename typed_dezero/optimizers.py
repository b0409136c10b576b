"""Optimizers: update a model's Parameters from their gradients (DeZero's API and defaults).

``opt = SGD(lr=0.1).setup(model)`` then, after each ``loss.backward()``, ``opt.update()``. The target
is any object with a ``params()`` method yielding Parameters (a Layer, a Model; see :class:`HasParams`).
Hooks (:class:`WeightDecay`, :class:`ClipGrad`, :class:`FreezeParam` or any ``f(params)``) run on the
parameters that have a gradient, in the order they were added, before the parameters are updated.

Per-parameter state (velocities, moments) is held in a ``weakref.WeakKeyDictionary`` keyed by the
Parameter object itself: state follows a parameter wherever it sits in the model, a parameter created
later (lazy initialisation) starts fresh, and the state of a parameter that was freed goes with it, so
a new parameter that happens to get the freed one's ``id()`` never inherits it (DeZero keyed by ``id``).
Only :meth:`Optimizer.state_dict` numbers the parameters: by their position among the distinct
Parameters of ``target.params()``, in order (``"v/0"``, ``"v/1"``, ...).
"""

from __future__ import annotations

import itertools
import math
import os
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Protocol, Self, TypeAlias, TypeGuard, final, overload, runtime_checkable

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from typed_dezero._checking import typechecked
from typed_dezero._io import ArraySpec, load_npz, save_npz
from typed_dezero._typing import Arr, describe, is_f64_array, is_int_array, is_real_scalar
from typed_dezero.config import flags_var
from typed_dezero.core.variable import Parameter, Variable
from typed_dezero.errors import DezeroTypeError, DezeroValueError, GraphError, ShapeError, WeightsFileError
from typed_dezero.functions._util import as_f64

__all__ = [
    "SGD",
    "AdaDelta",
    "AdaGrad",
    "Adam",
    "ClipGrad",
    "FreezeParam",
    "HasParams",
    "Hook",
    "MomentumSGD",
    "Optimizer",
    "WeightDecay",
]


@runtime_checkable
class HasParams(Protocol):
    """What an optimizer trains: an object whose ``params()`` yields its Parameters (a Layer, a Model)."""

    def params(self) -> Iterable[Parameter]: ...


Hook: TypeAlias = Callable[[list[Parameter]], None]
"""A function run by :meth:`Optimizer.update` on the parameters that have a gradient."""


def _is_parameter(x: object) -> TypeGuard[Parameter]:
    return isinstance(x, Parameter)


def _is_mapping(x: object) -> TypeGuard[Mapping[Any, Any]]:
    return isinstance(x, Mapping)


def _has_params(x: object) -> TypeGuard[HasParams]:
    return callable(getattr(x, "params", None))


class _Hyper:
    """A float hyper-parameter, checked at every assignment (construction and later changes, such
    as a learning-rate schedule): a finite real number within ``low`` (inclusive when `closed`) and
    ``high`` (exclusive)."""

    __slots__ = ("_closed", "_high", "_low", "_name")

    def __init__(self, low: float, *, closed: bool = False, high: float = math.inf) -> None:
        self._low = low
        self._closed = closed
        self._high = high
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Hyper: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> float: ...
    def __get__(self, obj: object, owner: type | None = None) -> _Hyper | float:
        if obj is None:
            return self
        value: float = obj.__dict__[self._name]
        return value

    def bounds(self) -> str:
        """The allowed range, in words: "> 0", ">= 0" or "in [0, 1)"."""
        if math.isinf(self._high):
            return f"{'>=' if self._closed else '>'} {self._low:g}"
        return f"in {'[' if self._closed else '('}{self._low:g}, {self._high:g})"

    def __set__(self, obj: object, value: float) -> None:
        where = f"{type(obj).__name__}: {self._name}"
        if not is_real_scalar(value):
            msg = f"{where} must be a real number, got {describe(value)}"
            raise DezeroTypeError(msg)
        try:
            number = float(value)
        except OverflowError:  # a Python int beyond the float64 range: out of any bounds below
            number = math.inf
        above = number >= self._low if self._closed else number > self._low
        if not (math.isfinite(number) and above and number < self._high):
            msg = f"{where} must be {self.bounds()}, got {value!r}"
            raise DezeroValueError(msg)
        obj.__dict__[self._name] = number


class _Configurable:
    """Shows the hyper-parameters in ``repr``: ``SGD(lr=0.01)``."""

    @override
    def __repr__(self) -> str:
        names = [n for klass in type(self).__mro__ for n, v in vars(klass).items() if isinstance(v, _Hyper)]
        return f"{type(self).__name__}({', '.join(f'{n}={self.__dict__[n]!r}' for n in names)})"


def _own_gradients(params: list[Parameter], others: Iterable[Parameter] = (), *, every: bool = False) -> None:
    """Give the gradients in `params` their own writable buffers, so that in-place changes to one
    gradient touch no other parameter's gradient or data.

    A gradient array is replaced by a copy (``param.grad = Variable(copy)``) when it is read-only
    (a broadcast view), does not own its memory (a view), or is the very array of another gradient
    (``y = a + b`` gives a and b one gradient object) or of a parameter's data; with `every`, always.
    """
    taken = {id(p.data) for p in itertools.chain(params, others)}
    for p in params:
        grad = p.grad
        if grad is None:
            continue
        array = grad.data
        if every or id(array) in taken or not array.flags.writeable or not array.flags.owndata:
            array = array.copy()
            p.grad = Variable(array)
        taken.add(id(array))


class Optimizer(_Configurable, ABC):
    """Base of the optimizers: subclasses define :meth:`update_one` (one parameter's update rule).

    Per-parameter state arrays are named by ``_slot_names`` (``"v"`` for MomentumSGD, ...), integer
    counters that :meth:`state_dict` saves by ``_counter_names`` (``"t"`` for Adam).

    Examples:
        A rule of your own: sign gradient descent.

        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Layer, Parameter
        >>> from typed_dezero.optimizers import Optimizer
        >>> class SignSGD(Optimizer):
        ...     def __init__(self, lr: float = 0.1) -> None:
        ...         super().__init__()
        ...         self.lr = lr
        ...
        ...     def update_one(self, param: Parameter) -> None:
        ...         assert param.grad is not None  # update() skips parameters without a gradient
        ...         param.data = param.data - self.lr * np.sign(param.grad.data)
        >>> layer = Layer()
        >>> layer.w = Parameter(np.array([3.0, -2.0]))
        >>> opt = SignSGD().setup(layer)
        >>> F.sum(layer.w**2).backward()
        >>> opt.update()
        >>> layer.w
        parameter([ 2.9 -1.9])
    """

    _slot_names: ClassVar[tuple[str, ...]] = ()
    _counter_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._target: HasParams | None = None
        self._hooks: list[Hook] = []
        self._state: weakref.WeakKeyDictionary[Parameter, dict[str, Arr]] = weakref.WeakKeyDictionary()

    @property
    def target(self) -> HasParams | None:
        """The object whose parameters :meth:`update` changes (None before :meth:`setup`)."""
        return self._target

    @property
    def hooks(self) -> tuple[Hook, ...]:
        """The hooks, in the order they run."""
        return tuple(self._hooks)

    def setup(self, target: HasParams) -> Self:
        """Train the parameters of `target` (anything with ``params()``); returns the optimizer."""
        if not _has_params(target):
            msg = (
                f"{type(self).__name__}.setup: target must have a params() method yielding Parameters "
                f"(a Layer or a Model), got {describe(target)}"
            )
            raise DezeroTypeError(msg)
        self._target = target
        return self

    @typechecked
    def add_hook(self, f: Hook) -> None:
        """Run ``f(params)`` in each :meth:`update`, after the hooks added before it, on the parameters
        that have a gradient (WeightDecay, ClipGrad, FreezeParam or any function of a list of Parameters)."""
        hook: object = f  # checked by hand too: a bad hook would only fail at a later update()
        if not callable(hook):
            msg = f"{type(self).__name__}.add_hook: f must be callable as f(params), got {describe(f)}"
            raise DezeroTypeError(msg)
        self._hooks.append(f)

    def update(self) -> None:
        """Update every parameter of the target that has a gradient; parameters without one are skipped.

        Runs under ``no_grad``: each hook ``f(params)`` in turn, then :meth:`update_one` on each
        parameter that still has a gradient (a hook drops a parameter by setting its ``grad`` to
        None). A parameter listed twice by ``params()`` is updated once. When there are hooks, every
        gradient is first replaced by a copy (``param.grad = Variable(copy)``), so that hooks may
        change gradients in place without touching the arrays backward produced. Raises GraphError
        before :meth:`setup`, ShapeError when a parameter's shape changed since its state was made.

        All or nothing: when anything raises (a check, a hook, an interrupt, a MemoryError), every
        parameter, gradient, state array and step count is as it was before the call. The built-in
        optimizers and hooks replace arrays rather than changing them in place, which is what makes
        this possible: an :meth:`update_one` of your own should do the same.
        """
        params = self._params("update")
        where = f"{type(self).__name__}.update"
        live = [p for p in params if p.grad is not None]
        for p in live:
            self._check_state_shape(where, p)
        # What a failed update puts back: references suffice, since nothing is changed in place.
        grads = [(p, p.grad) for p in live]
        data = [(p, p.data) for p in live]
        fresh = [p for p in live if p not in self._state]
        slots = [(s, dict(s)) for s in (self._state.get(p) for p in live) if s is not None]
        counters = self._counters()
        switches = flags_var.get()
        # Not the no_grad() context manager: its exit would run after the update, outside the rollback.
        token = flags_var.set(switches._replace(enable_backprop=False))
        try:
            if self._hooks:
                _own_gradients(live, params, every=True)
                for hook in self._hooks:
                    hook(live)
                    live = [p for p in live if p.grad is not None]
            self._begin_update()  # after the checks and hooks, so a failed update() does not count
            for p in live:
                self.update_one(p)
            flags_var.reset(token)
        except BaseException:
            flags_var.set(switches)
            self._restore_counters(counters)
            for p in fresh:
                self._state.pop(p, None)
            for arrays, kept in slots:
                arrays.clear()
                arrays.update(kept)
            for p, array in data:
                p.data = array
            for p, grad in grads:
                p.grad = grad
            raise

    @abstractmethod
    def update_one(self, param: Parameter) -> None:
        """Change ``param.data`` in place from ``param.grad`` (called by :meth:`update`)."""

    def _begin_update(self) -> None:
        """Called once at the start of each :meth:`update` (Adam counts its steps here)."""

    def _counters(self) -> dict[str, int]:
        """The integer state saved by :meth:`state_dict`, by the names in ``_counter_names``."""
        return {}

    def _restore_counters(self, counters: Mapping[str, int]) -> None:
        """Set the integer state from validated values (keys: ``_counter_names``)."""

    # -- helpers for update_one ---------------------------------------------------------------------

    def _grad(self, param: Parameter) -> Arr:
        grad = param.grad
        if grad is None:
            msg = f"{type(self).__name__}.update_one: the parameter has no gradient; call backward() first"
            raise DezeroValueError(msg)
        return grad.data

    def _slots(self, param: Parameter) -> dict[str, Arr]:
        """The state arrays of `param` (zeros at first), one per name of ``_slot_names``."""
        slots = self._state.get(param)
        if slots is None:
            slots = {name: np.zeros_like(param.data) for name in self._slot_names}
            self._state[param] = slots
        else:
            self._check_state_shape(f"{type(self).__name__}.update_one", param)
        return slots

    def _check_state_shape(self, where: str, param: Parameter) -> None:
        """ShapeError when `param` has state arrays of another shape (its data was replaced)."""
        slots = self._state.get(param)
        if slots:
            shape = next(iter(slots.values())).shape
            if shape != param.shape:
                msg = (
                    f"{where}: the parameter's shape changed since its state was created; "
                    f"got data.shape={param.shape}, state shape={shape}"
                )
                raise ShapeError(msg)

    # -- state --------------------------------------------------------------------------------------

    def _params(self, where: str) -> list[Parameter]:
        """The distinct Parameters of the target, in ``params()`` order."""
        target = self._target
        if target is None:
            msg = f"{type(self).__name__}.{where}: no target; call setup(model) first"
            raise GraphError(msg)
        params: list[Parameter] = []
        seen: set[int] = set()
        for i, p in enumerate(target.params()):
            if not _is_parameter(p):
                msg = (
                    f"{type(self).__name__}.{where}: target.params() must yield Parameters; "
                    f"item {i} is {describe(p)}"
                )
                raise DezeroTypeError(msg)
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        return params

    def state_dict(self) -> dict[str, npt.NDArray[Any]]:
        """The state needed to resume training exactly: the counters (Adam's ``"t"``, a 0-d int64
        array) and copies of the per-parameter arrays, keyed ``"<slot>/<position>"`` (``"v/0"``) by
        the parameter's position among the distinct Parameters of ``target.params()``. Parameters
        not updated yet have no entries. Hyper-parameters are not included: they are the
        constructor's arguments. Raises GraphError before :meth:`setup`."""
        params = self._params("state_dict")
        state: dict[str, npt.NDArray[Any]] = {
            name: np.array(value, dtype=np.int64) for name, value in self._counters().items()
        }
        for i, p in enumerate(params):
            slots = self._state.get(p)
            if slots is not None:
                for name, array in slots.items():
                    state[f"{name}/{i}"] = array.copy()
        return state

    @typechecked
    def load_state_dict(self, state: Mapping[str, npt.NDArray[Any]]) -> None:
        """Restore a :meth:`state_dict` of the same optimizer class for the same target.

        Every key and array is checked first: a missing counter, a parameter with only some of its
        arrays, an unknown key or a position beyond the target's parameters, a wrong dtype or a shape
        that differs from the parameter's raise DezeroValueError listing all problems, and nothing is
        changed. Parameters without entries start fresh. Arrays are copied.
        """
        params = self._params("load_state_dict")
        if not _is_mapping(state):
            msg = (
                f"{type(self).__name__}.load_state_dict: state must be a mapping of str to arrays, "
                f"got {describe(state)}"
            )
            raise DezeroTypeError(msg)
        missing: list[str] = []
        problems: list[str] = []
        counters = self._check_counters(state, missing, problems)
        present, unexpected = self._check_slots(state, params, missing, problems)
        if missing or unexpected or problems:
            parts = [f"missing keys {missing}"] if missing else []
            if unexpected:
                parts.append(f"unexpected keys {sorted(unexpected)}")
            parts.extend(problems)
            msg = (
                f"{type(self).__name__}.load_state_dict: the state does not fit this optimizer and its "
                f"target ({len(params)} parameters): {'; '.join(parts)}"
            )
            raise DezeroValueError(msg)
        slots = {
            p: {name: np.array(arrays[name], dtype=np.float64) for name in self._slot_names}
            for position, p in enumerate(params)
            if (arrays := present.get(position)) is not None
        }
        old_counters, old_state = self._counters(), dict(self._state.items())
        try:
            self._restore_counters(counters)
            for p in params:
                self._state.pop(p, None)
            self._state.update(slots)
        except BaseException:  # an interrupt while replacing: put the old state back
            self._restore_counters(old_counters)
            self._state.clear()
            self._state.update(old_state)
            raise

    def _check_counters(
        self, state: Mapping[str, npt.NDArray[Any]], missing: list[str], problems: list[str]
    ) -> dict[str, int]:
        counters: dict[str, int] = {}
        for name in self._counter_names:
            value = state.get(name)
            if value is None:
                missing.append(name)
            elif is_int_array(value) and value.ndim == 0 and int(value) >= 0:
                counters[name] = int(value)
            else:
                problems.append(f"{name!r} must be a 0-d non-negative integer array, got {describe(value)}")
        return counters

    def _check_slots(
        self,
        state: Mapping[str, npt.NDArray[Any]],
        params: list[Parameter],
        missing: list[str],
        problems: list[str],
    ) -> tuple[dict[int, dict[str, Arr]], list[str]]:
        """The valid per-parameter arrays by position, and the unexpected keys."""
        present: dict[int, dict[str, Arr]] = {}
        named: dict[int, set[str]] = {}
        unexpected: list[str] = []
        for key, value in state.items():
            if key in self._counter_names:
                continue
            slot, _, index = key.partition("/")
            position = _position(index, len(params))
            if slot not in self._slot_names or position is None:
                unexpected.append(key)
                continue
            named.setdefault(position, set()).add(slot)
            expected = params[position].shape
            if not is_f64_array(value):
                problems.append(f"{key!r} must be a float64 array, got {describe(value)}")
            elif value.shape != expected:
                problems.append(f"{key!r} has shape {value.shape}, parameter {position} has shape {expected}")
            else:
                present.setdefault(position, {})[slot] = value
        for position, slots in sorted(named.items()):
            missing.extend(f"{name}/{position}" for name in self._slot_names if name not in slots)
        return present, unexpected

    @typechecked
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`state_dict` to the .npz file `path` (atomically; `path` is used as given)."""
        save_npz(path, self.state_dict())

    @typechecked
    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore the state saved by :meth:`save`. Errors: FileNotFoundError; WeightsFileError (a
        ValueError) for an unreadable file or a state that does not fit (see :meth:`load_state_dict`),
        raised before reading the arrays' data when the names, shapes or dtypes in the file are not
        those of this optimizer and its target (counters: 0-d integers; ``"<slot>/<position>"``:
        the parameter's shape)."""
        params = self._params("load")
        expected = {name: ArraySpec((), kinds="iu") for name in self._counter_names}
        for position, param in enumerate(params):
            for slot in self._slot_names:
                expected[f"{slot}/{position}"] = ArraySpec(param.shape, required=False)
        state = load_npz(path, expected=expected, where=f"{type(self).__name__}.load")
        try:
            self.load_state_dict(state)
        except DezeroValueError as error:
            msg = f"{type(self).__name__}.load: {os.fspath(path)!r} does not fit: {error}"
            raise WeightsFileError(msg) from error


def _position(index: str, count: int) -> int | None:
    """The position written as `index` ("0", "12"; no sign or leading zero) if below `count`."""
    if not index.isascii() or not index.isdigit() or (len(index) > 1 and index[0] == "0"):
        return None
    position = int(index)
    return position if position < count else None


@final
class SGD(Optimizer):
    """Stochastic gradient descent: ``data -= lr * grad``.

    Arguments:
        lr: the learning rate, > 0 (may be changed between updates, e.g. by a schedule).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Layer, Parameter
        >>> from typed_dezero.optimizers import SGD
        >>> layer = Layer()
        >>> layer.w = Parameter(np.array([1.0, -2.0]))
        >>> opt = SGD(lr=0.1).setup(layer)
        >>> loss = F.sum(layer.w**2)
        >>> loss.backward()
        >>> opt.update()
        >>> layer.w  # w - 0.1 * 2w
        parameter([ 0.8 -1.6])
        >>> opt.lr = -1.0
        Traceback (most recent call last):
        ...
        typed_dezero.errors.DezeroValueError: SGD: lr must be > 0, got -1.0
    """

    lr = _Hyper(0.0)

    @typechecked
    def __init__(self, lr: float = 0.01) -> None:
        super().__init__()
        self.lr = lr

    @override
    @typechecked
    def update_one(self, param: Parameter) -> None:
        param.data = as_f64(param.data - self.lr * self._grad(param))


@final
class MomentumSGD(Optimizer):
    """SGD with momentum: ``v = momentum * v - lr * grad; data += v`` (v starts at zero).

    Arguments:
        lr: the learning rate, > 0.
        momentum: the decay of the velocity, in [0, 1).
    """

    lr = _Hyper(0.0)
    momentum = _Hyper(0.0, closed=True, high=1.0)
    _slot_names = ("v",)

    @typechecked
    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__()
        self.lr = lr
        self.momentum = momentum

    @override
    @typechecked
    def update_one(self, param: Parameter) -> None:
        grad = self._grad(param)
        slots = self._slots(param)
        v = as_f64(slots["v"] * self.momentum - self.lr * grad)
        slots["v"] = v
        param.data = as_f64(param.data + v)


@final
class AdaGrad(Optimizer):
    """AdaGrad: ``h += grad**2; data -= lr * grad / (sqrt(h) + eps)`` (h starts at zero).

    Arguments:
        lr: the learning rate, > 0.
        eps: added to the denominator, > 0.
    """

    lr = _Hyper(0.0)
    eps = _Hyper(0.0)
    _slot_names = ("h",)

    @typechecked
    def __init__(self, lr: float = 0.001, eps: float = 1e-8) -> None:
        super().__init__()
        self.lr = lr
        self.eps = eps

    @override
    @typechecked
    def update_one(self, param: Parameter) -> None:
        grad = self._grad(param)
        slots = self._slots(param)
        h = as_f64(slots["h"] + grad * grad)
        slots["h"] = h
        param.data = as_f64(param.data - self.lr * grad / (np.sqrt(h) + self.eps))


@final
class AdaDelta(Optimizer):
    """AdaDelta (no learning rate), with running means of squared gradients ``msg`` and of squared
    updates ``msdx`` (both start at zero)::

        msg = rho * msg + (1 - rho) * grad**2
        dx = sqrt((msdx + eps) / (msg + eps)) * grad
        msdx = rho * msdx + (1 - rho) * dx**2
        data -= dx

    Arguments:
        rho: the decay of the running means, in [0, 1).
        eps: keeps the ratio finite, > 0.
    """

    rho = _Hyper(0.0, closed=True, high=1.0)
    eps = _Hyper(0.0)
    _slot_names = ("msg", "msdx")

    @typechecked
    def __init__(self, rho: float = 0.95, eps: float = 1e-6) -> None:
        super().__init__()
        self.rho = rho
        self.eps = eps

    @override
    @typechecked
    def update_one(self, param: Parameter) -> None:
        grad = self._grad(param)
        slots = self._slots(param)
        rho, eps = self.rho, self.eps
        msg = as_f64(slots["msg"] * rho + (1.0 - rho) * grad * grad)
        dx = np.sqrt((slots["msdx"] + eps) / (msg + eps)) * grad
        slots["msg"], slots["msdx"] = msg, as_f64(slots["msdx"] * rho + (1.0 - rho) * dx * dx)
        param.data = as_f64(param.data - dx)


@final
class Adam(Optimizer):
    """Adam, with DeZero's bias correction folded into the step size :attr:`lr`::

        m += (1 - beta1) * (grad - m)
        v += (1 - beta2) * (grad**2 - v)
        data -= lr * m / (sqrt(v) + eps),  lr = alpha * sqrt(1 - beta2**t) / (1 - beta1**t)

    ``t`` counts the calls of :meth:`update` (incremented once at the start of each); m and v
    start at zero.

    Arguments:
        alpha: the base step size, > 0.
        beta1, beta2: decays of the moment estimates, in [0, 1).
        eps: added to the denominator, > 0.

    Examples:
        Resuming training: the moments and the step count travel with :meth:`state_dict` (or
        :meth:`save` / :meth:`load`).

        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> import typed_dezero.layers as L
        >>> from typed_dezero.optimizers import Adam
        >>> model = L.Linear(1, in_size=2)
        >>> opt = Adam(alpha=0.01).setup(model)
        >>> F.sum(model(np.ones((3, 2))) ** 2).backward()
        >>> opt.update()
        >>> opt.t, sorted(opt.state_dict())
        (1, ['m/0', 'm/1', 't', 'v/0', 'v/1'])
        >>> resumed = Adam(alpha=0.01).setup(model)
        >>> resumed.load_state_dict(opt.state_dict())
        >>> resumed.t
        1
    """

    alpha = _Hyper(0.0)
    beta1 = _Hyper(0.0, closed=True, high=1.0)
    beta2 = _Hyper(0.0, closed=True, high=1.0)
    eps = _Hyper(0.0)
    _slot_names = ("m", "v")
    _counter_names = ("t",)

    @typechecked
    def __init__(
        self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self._t = 0

    @property
    def t(self) -> int:
        """The number of :meth:`update` calls so far."""
        return self._t

    @property
    def lr(self) -> float:
        """The bias-corrected step size of update number ``t`` (of the first update while ``t == 0``)."""
        t = max(self._t, 1)
        return self.alpha * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)

    @override
    def _begin_update(self) -> None:
        self._t += 1

    @override
    def _counters(self) -> dict[str, int]:
        return {"t": self._t}

    @override
    def _restore_counters(self, counters: Mapping[str, int]) -> None:
        self._t = counters["t"]

    @override
    @typechecked
    def update_one(self, param: Parameter) -> None:
        grad = self._grad(param)
        slots = self._slots(param)
        m = as_f64(slots["m"] + (1.0 - self.beta1) * (grad - slots["m"]))
        v = as_f64(slots["v"] + (1.0 - self.beta2) * (grad * grad - slots["v"]))
        slots["m"], slots["v"] = m, v
        param.data = as_f64(param.data - self.lr * m / (np.sqrt(v) + self.eps))


@final
class WeightDecay(_Configurable):
    """A hook adding L2 regularisation: ``grad += rate * data`` for each parameter, in place.

    Arguments:
        rate: the decay coefficient, >= 0.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Layer, Parameter
        >>> from typed_dezero.optimizers import SGD, WeightDecay
        >>> layer = Layer()
        >>> layer.w = Parameter(np.array([1.0, 2.0]))
        >>> opt = SGD(lr=0.1).setup(layer)
        >>> opt.add_hook(WeightDecay(0.5))
        >>> F.sum(layer.w * 0.0).backward()  # a zero gradient: only the decay acts
        >>> opt.update()
        >>> layer.w  # w - 0.1 * 0.5 * w
        parameter([0.95 1.9 ])
    """

    rate = _Hyper(0.0, closed=True)

    @typechecked
    def __init__(self, rate: float) -> None:
        self.rate = rate

    @typechecked
    def __call__(self, params: list[Parameter]) -> None:
        _own_gradients(params)
        for p in params:
            grad = p.grad
            if grad is not None:
                array = grad.data
                array += self.rate * p.data


def _l2_norm(x: Arr) -> float:
    """The L2 norm of `x`, without overflow for large entries (inf or nan for non-finite ones)."""
    if x.size == 0:
        return 0.0
    scale = float(np.max(np.abs(x)))
    if scale == 0.0 or not math.isfinite(scale):
        return scale
    return scale * math.sqrt(float(np.sum(np.square(x / scale))))


@final
class ClipGrad(_Configurable):
    """A hook limiting the global L2 norm of the gradients: when the norm over all parameters,
    ``total``, gives ``rate = max_norm / (total + 1e-6) < 1``, every gradient is scaled by ``rate``
    in place (DeZero's formula). Raises DezeroValueError when a gradient holds inf or nan.

    Arguments:
        max_norm: the largest global norm let through, > 0.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero import Parameter, Variable
        >>> from typed_dezero.optimizers import ClipGrad
        >>> p = Parameter(np.zeros(2))
        >>> p.grad = Variable(np.array([3.0, 4.0]))  # norm 5
        >>> ClipGrad(1.0)([p])
        >>> p.grad  # scaled to norm 1
        variable([0.6 0.8])
    """

    max_norm = _Hyper(0.0)

    @typechecked
    def __init__(self, max_norm: float) -> None:
        self.max_norm = max_norm

    @typechecked
    def __call__(self, params: list[Parameter]) -> None:
        _own_gradients(params)
        grads = [g.data for g in (p.grad for p in params) if g is not None]
        total = math.hypot(*(_l2_norm(g) for g in grads))
        if not math.isfinite(total):
            msg = f"ClipGrad: the gradients' global norm is {total}; a gradient holds inf or nan"
            raise DezeroValueError(msg)
        rate = self.max_norm / (total + 1e-6)
        if rate < 1.0:
            for g in grads:
                np.multiply(g, rate, out=g)


@final
class FreezeParam:
    """A hook keeping parameters unchanged: it drops (sets to None) the gradients of the given
    Parameters and of every Parameter of the given layers, so :meth:`Optimizer.update` skips them.

    A layer's parameters are looked up at each update, so parameters a layer creates later (lazy
    initialisation) are frozen too.

    Arguments:
        *targets: Parameters and objects with ``params()`` (layers, models); at least one.

    Examples:
        Fine-tune the head of a model and keep its body fixed:

        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> import typed_dezero.layers as L
        >>> from typed_dezero.models import Sequential
        >>> from typed_dezero.optimizers import SGD, FreezeParam
        >>> body, head = L.Linear(4, in_size=3), L.Linear(1, in_size=4)
        >>> model = Sequential(body, head)
        >>> opt = SGD(lr=0.1).setup(model)
        >>> opt.add_hook(FreezeParam(body))
        >>> before = body.W.data.copy()
        >>> F.sum(model(np.ones((2, 3)))).backward()
        >>> opt.update()
        >>> bool(np.array_equal(body.W.data, before))
        True
    """

    @typechecked
    def __init__(self, *targets: Parameter | HasParams) -> None:
        if not targets:
            msg = "FreezeParam: give at least one Parameter or layer to freeze"
            raise DezeroValueError(msg)
        for i, target in enumerate(targets):
            if not (_is_parameter(target) or _has_params(target)):
                msg = (
                    f"FreezeParam: argument {i} must be a Parameter or have a params() method, "
                    f"got {describe(target)}"
                )
                raise DezeroTypeError(msg)
        self._targets = targets

    def frozen(self) -> list[Parameter]:
        """The Parameters frozen now."""
        params: list[Parameter] = []
        for target in self._targets:
            if isinstance(target, Parameter):
                params.append(target)
            else:
                params.extend(target.params())
        return params

    @typechecked
    def __call__(self, params: list[Parameter]) -> None:
        frozen = {id(p) for p in self.frozen()}
        for p in params:
            if id(p) in frozen:
                p.grad = None

    @override
    def __repr__(self) -> str:
        return f"FreezeParam({len(self._targets)} targets)"

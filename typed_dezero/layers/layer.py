"""Layer: the base of every layer and model. It registers Parameters and sub-Layers in assignment
order, holds non-trainable state (running statistics), and saves and loads weights files."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Generic, NamedTuple, TypeAlias, TypeGuard

import numpy as np
import numpy.typing as npt
from typing_extensions import ParamSpec, TypeVar

from typed_dezero import _io
from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, Shape, describe, f64_hint, is_f64_array
from typed_dezero.core.variable import Parameter
from typed_dezero.errors import DezeroError, DezeroTypeError, DezeroValueError, ShapeError

__all__ = ["Layer", "UninitializedParameterError"]

P = ParamSpec("P", default=...)
"""The parameters of ``forward`` (and so of calling the layer)."""
R = TypeVar("R", default=Any)
"""What ``forward`` returns."""

ShapeTemplate = tuple[int | None, ...]
"""A parameter shape whose None entries are known only at the first call."""


class UninitializedParameterError(DezeroError, AttributeError):
    """A lazily created parameter was read (or saved) before the layer's first call.

    Examples:
        >>> import typed_dezero.layers as L
        >>> L.Linear(3).W
        Traceback (most recent call last):
        ...
        typed_dezero.layers.layer.UninitializedParameterError: Linear.W is created at the layer's ...
    """


class Layer(Generic[P, R]):
    """Base class of layers: ``Layer[[Variable], Variable]`` is called with one Variable and returns one.

    Attributes that are :class:`Parameter` or :class:`Layer` instances are registered in assignment
    order; :meth:`params` yields every parameter of the layer and its sub-layers once, in that order.
    Subclasses implement :meth:`forward`; calling the layer calls it.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> import typed_dezero.layers as L
        >>> from typed_dezero import Variable
        >>> from typed_dezero.layers import Layer
        >>> class TwoLayers(Layer[[Variable], Variable]):
        ...     def __init__(self, hidden: int, out: int) -> None:
        ...         super().__init__()
        ...         self.l1 = L.Linear(hidden)  # registered as "l1", its input size taken at the first call
        ...         self.l2 = L.Linear(out)
        ...
        ...     def forward(self, x: Variable) -> Variable:
        ...         return self.l2(F.relu(self.l1(x)))
        >>> net = TwoLayers(8, 1)
        >>> net.uninitialized()
        ['l1/W', 'l2/W']
        >>> net(Variable(np.ones((4, 3)))).shape
        (4, 1)
        >>> [name for name, _ in net.named_params()]
        ['l1/W', 'l1/b', 'l2/W', 'l2/b']
    """

    def __init__(self) -> None:
        self._registry()

    def _registry(self) -> list[str]:
        # Created on first use, so subclasses that skip super().__init__() still register.
        names: list[str] | None = self.__dict__.get("_names")
        if names is None:
            names = []
            object.__setattr__(self, "_names", names)
            object.__setattr__(self, "_lazy", {})
            object.__setattr__(self, "_state", {})
            object.__setattr__(self, "_lazy_state", {})
        return names

    def _lazy_templates(self) -> dict[str, ShapeTemplate]:
        self._registry()
        templates: dict[str, ShapeTemplate] = self.__dict__["_lazy"]
        return templates

    def _state_arrays(self) -> dict[str, Arr]:
        self._registry()
        state: dict[str, Arr] = self.__dict__["_state"]
        return state

    def _lazy_state_templates(self) -> dict[str, ShapeTemplate]:
        self._registry()
        templates: dict[str, ShapeTemplate] = self.__dict__["_lazy_state"]
        return templates

    def __setattr__(self, name: str, value: object) -> None:
        names = self._registry()
        if isinstance(value, Parameter | Layer):
            if name not in names:
                names.append(name)
            _changed()
        elif name in self._lazy_templates():
            msg = (
                f"{type(self).__name__}.{name} is a parameter: assign a Parameter, got {describe(value)} "
                f"(to change its values, assign {name}.data)"
            )
            raise DezeroTypeError(msg)
        elif name in names:
            names.remove(name)
            _changed()
        object.__setattr__(self, name, value)

    if (
        not TYPE_CHECKING
    ):  # pragma: no branch - only for missing attributes; hidden so checkers still catch typos

        def __getattr__(self, name: str) -> object:
            lazy = self.__dict__.get("_lazy", {})
            # a property over a lazy state (BatchNorm.avg_mean) lands here when the state is missing
            if name in lazy or name in self.__dict__.get("_lazy_state", {}):
                msg = (
                    f"{type(self).__name__}.{name} is created at the layer's first call, from the input's "
                    "shape; call the layer once (or give its input size) before reading it"
                )
                raise UninitializedParameterError(msg)
            msg = f"{type(self).__name__!r} object has no attribute {name!r}"
            raise AttributeError(msg)

    # -- calling ---------------------------------------------------------------------------

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call :meth:`forward`. A call that fails (any exception, KeyboardInterrupt included)
        leaves the layer and its sub-layers as they were: the lazy parameters and state it created
        are removed, the generators they were drawn from rewound, and state arrays (running
        statistics) restored; the outermost layer call guards the whole tree."""
        if _guarded.get():
            return self.forward(*args, **kwargs)  # inside an outer layer call, which guards us
        plan = self._call_plan()
        if plan is None:
            return self.forward(*args, **kwargs)
        # The plan names layers by weak references: a strong one, in a cache keyed weakly by this
        # very layer, would keep the layer alive for ever.
        pending = [(layer, names) for ref, names in plan[0] if (layer := ref()) is not None]
        generators = plan[1]
        stateful = [layer for ref in plan[2] if (layer := ref()) is not None]
        # No context managers here: their exits run code after the forward, where an interrupt
        # would escape the rollback below.
        rng_states = [g.bit_generator.state for g in generators]
        states = [(layer, dict(layer._state_arrays())) for layer in stateful]
        copies = [[a.copy() for a in kept.values()] for _, kept in states]
        token = _guarded.set(True)
        try:
            result = self.forward(*args, **kwargs)
            _guarded.reset(token)
        except BaseException:
            _guarded.set(False)
            for layer, names in pending:
                for name in names:
                    layer.__dict__.pop(name, None)
                    layer._state_arrays().pop(name, None)
            for (layer, kept), saved in zip(states, copies, strict=True):
                arrays = layer._state_arrays()
                arrays.clear()
                arrays.update(kept)
                for array, copy in zip(kept.values(), saved, strict=True):
                    array[...] = copy
            for g, state in zip(generators, rng_states, strict=True):
                g.bit_generator.state = state
            _changed()
            raise
        return result

    def _call_plan(self) -> _CallPlan | None:
        """What a call must be able to undo: the lazy parameters and states not created yet (and
        the generators of their layers), and the layers holding state arrays; None when nothing.
        Cached until a layer anywhere changes its parameters, sub-layers or state."""
        cached = _plans.get(self)
        if cached is not None and cached[0] == _structure[0]:
            return cached[1]
        version = _structure[0]
        pending: list[tuple[weakref.ref[Layer[Any, Any]], list[str]]] = []
        generators: dict[int, np.random.Generator] = {}
        stateful: list[weakref.ref[Layer[Any, Any]]] = []
        for _, layer in self._named_layers():
            names = [
                n
                for n in (*layer._lazy_templates(), *layer._lazy_state_templates())
                if not layer.is_initialized(n)
            ]
            if names:
                pending.append((weakref.ref(layer), names))
                for value in layer.__dict__.values():
                    if isinstance(value, np.random.Generator):
                        generators[id(value)] = value
            if layer._state_arrays():
                stateful.append(weakref.ref(layer))
        plan = (pending, tuple(generators.values()), stateful) if pending or stateful else None
        _plans[self] = (version, plan)
        return plan

    def forward(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Compute the layer's output; subclasses define it."""
        msg = f"{type(self).__name__} must define forward()"
        raise NotImplementedError(msg)

    # -- lazy parameters and state ------------------------------------------------------------

    def declare_lazy_parameter(self, name: str, template: ShapeTemplate) -> None:
        """Reserve `name` (and its place in the registration order) for a Parameter created later,
        e.g. at the first call; `template` gives its shape with None for the dimensions not yet known."""
        names = self._registry()
        self._lazy_templates()[name] = template
        if name not in names:
            names.append(name)
        _changed()

    def set_lazy_parameter(self, name: str, data: Arr) -> Parameter:
        """Create the declared lazy parameter `name` from `data` (its shape must fit the template)."""
        templates = self._lazy_templates()
        if name not in templates:
            msg = (
                f"{type(self).__name__}.set_lazy_parameter: {name!r} was not declared; call "
                f"declare_lazy_parameter({name!r}, template) first"
            )
            raise DezeroValueError(msg)
        _require_f64(f"{type(self).__name__}.set_lazy_parameter({name!r})", data)
        _check_template(type(self).__name__, name, templates[name], data.shape)
        param = Parameter(data, name=name)
        setattr(self, name, param)
        return param

    def is_initialized(self, name: str) -> bool:
        """Whether the (possibly lazy) parameter or state array `name` exists yet."""
        return name in self.__dict__ or name in self._state_arrays()

    def declare_lazy_state(self, name: str, template: ShapeTemplate) -> None:
        """Reserve `name` for a state array created later (see :meth:`set_state`), so that loading
        weights into a layer that has not run yet creates it; None in `template` marks the dimensions
        not yet known."""
        self._lazy_state_templates()[name] = template
        _changed()

    def set_state(self, name: str, value: Arr) -> None:
        """Store a non-trainable array, e.g. running statistics: saved with the weights, never
        returned by :meth:`params`, never updated by optimizers."""
        _require_f64(f"{type(self).__name__}.set_state({name!r})", value)
        template = self._lazy_state_templates().get(name)
        if template is not None:
            _check_template(type(self).__name__, name, template, value.shape)
        arrays = self._state_arrays()
        if name not in arrays:
            _changed()
        arrays[name] = value

    def state(self, name: str) -> Arr:
        """The non-trainable array stored under `name` (see :meth:`set_state`)."""
        states = self._state_arrays()
        if name in states:
            return states[name]
        if name in self._lazy_state_templates():
            msg = (
                f"{type(self).__name__} state {name!r} is created at the layer's first call; call the "
                "layer once (or load weights) before reading it"
            )
            raise UninitializedParameterError(msg)
        msg = f"{type(self).__name__} has no state {name!r}; it has {sorted(states)}"
        raise KeyError(msg)

    # -- traversal ----------------------------------------------------------------------------

    def _members(self) -> Iterator[tuple[str, Parameter | Layer[Any, Any]]]:
        for name in self._registry():
            value = self.__dict__.get(name)
            if isinstance(value, Parameter | Layer):
                yield name, value

    def _param_slots(self) -> Iterator[tuple[str, Layer[Any, Any], str, Parameter]]:
        # (key, owning layer, attribute name, parameter), depth first in registration order, each
        # parameter once. An explicit stack of member iterators: nesting depth never meets the
        # recursion limit.
        seen: set[int] = {id(self)}
        pending: list[tuple[str, Layer[Any, Any], Iterator[tuple[str, Parameter | Layer[Any, Any]]]]] = [
            ("", self, self._members())
        ]
        while pending:
            prefix, owner, members = pending[-1]
            item = next(members, None)
            if item is None:
                pending.pop()
                continue
            name, value = item
            key = prefix + name
            if isinstance(value, Layer):
                if id(value) not in seen:
                    seen.add(id(value))
                    pending.append((key + "/", value, value._members()))
            elif id(value) not in seen:
                seen.add(id(value))
                yield key, owner, name, value

    def named_params(self) -> Iterator[tuple[str, Parameter]]:
        """``("l0/W", param)`` pairs, depth first in registration order; a parameter reachable under
        several names is yielded once, under the first."""
        for key, _, _, param in self._param_slots():
            yield key, param

    def params(self) -> Iterator[Parameter]:
        """Every Parameter of this layer and its sub-layers, once each, in registration order."""
        for _, param in self.named_params():
            yield param

    def cleargrads(self) -> None:
        """Clear the gradient of every parameter."""
        for param in self.params():
            param.cleargrad()

    def _named_layers(self) -> Iterator[tuple[str, Layer[Any, Any]]]:
        stack: list[tuple[str, Layer[Any, Any]]] = [("", self)]
        seen: set[int] = set()
        while stack:
            prefix, layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            yield prefix, layer
            children = [(prefix + name + "/", v) for name, v in layer._members() if isinstance(v, Layer)]
            stack.extend(reversed(children))

    def uninitialized(self) -> list[str]:
        """Names of lazily created parameters and state arrays (here and in sub-layers) that do not
        exist yet."""
        return [
            prefix + name
            for prefix, layer in self._named_layers()
            for name in (*layer._lazy_templates(), *layer._lazy_state_templates())
            if not layer.is_initialized(name)
        ]

    # -- state dict and weights files -----------------------------------------------------------

    def state_dict(self) -> dict[str, Arr]:
        """Copies of every parameter and state array, keyed ``"sub/name"``. Raises
        UninitializedParameterError while lazy parameters do not exist yet."""
        missing = self.uninitialized()
        if missing:
            msg = (
                f"{type(self).__name__}: {missing} do not exist yet (lazy parameters and state are "
                "created at the first call); run the model once on an input before saving its weights"
            )
            raise UninitializedParameterError(msg)
        out = {name: param.data.copy() for name, param in self.named_params()}
        for prefix, layer in self._named_layers():
            for name, value in layer._state_arrays().items():
                out.setdefault(prefix + name, value.copy())
        return out

    def load_state_dict(self, state: Mapping[str, npt.NDArray[Any]]) -> None:
        """Set every parameter and state array from `state` (as :meth:`state_dict` makes).

        Arrays of another floating dtype are converted to float64. Missing or unexpected keys,
        non-floating arrays and shape mismatches raise an error naming them, and leave the model
        untouched. Lazy parameters that do not exist yet are created from the given arrays.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not _is_mapping(state):
            msg = f"{where}: state must be a mapping of names to arrays (a dict), got {describe(state)}"
            raise DezeroTypeError(msg)
        targets = self._load_targets()
        missing = [key for key in targets if key not in state]
        unexpected = sorted((key for key in state if key not in targets), key=str)
        if missing or unexpected:
            msg = f"{where}: keys do not match the model; missing {missing}, unexpected {unexpected}"
            raise DezeroValueError(msg)
        converted: dict[str, Arr] = {}
        for key, target in targets.items():
            array: object = state[key]
            if not _is_float_array(array):
                msg = f"{where}: {key!r} must be a floating-point numpy.ndarray, got {describe(array)}"
                raise DezeroTypeError(msg)
            current = target.current
            if current is not None and array.shape != current.shape:
                msg = f"{where}: {key!r} has shape {array.shape}, the model expects {current.shape}"
                raise ShapeError(msg)
            if current is None:
                _check_template(type(target.layer).__name__, target.name, target.template, array.shape)
            converted[key] = np.array(array, dtype=np.float64)  # a copy the model owns
        # Every check passed; now replace arrays (never write into them: a state array may be
        # read-only), noting what each replaced, so that an interrupt puts everything back.
        undo: list[Callable[[], object]] = []
        try:
            for key, target in targets.items():
                value = converted[key]
                layer, name = target.layer, target.name
                if target.is_state:
                    arrays = layer._state_arrays()
                    old = arrays.get(name)
                    undo.append(
                        partial(arrays.pop, name, None)
                        if old is None
                        else partial(arrays.__setitem__, name, old)
                    )
                    layer.set_state(name, value)
                elif target.current is None:
                    undo.append(partial(layer.__dict__.pop, name, None))
                    layer.set_lazy_parameter(name, value)
                else:
                    param: Parameter = layer.__dict__[name]
                    undo.append(partial(setattr, param, "data", param.data))
                    param.data = value
        except BaseException:
            for step in reversed(undo):
                step()
            _changed()
            raise

    def _load_targets(self) -> dict[str, _Target]:
        # The keys of state_dict() (same order), plus the lazy parameters and states not created yet.
        targets: dict[str, _Target] = {}
        for key, layer, name, param in self._param_slots():
            targets[key] = _Target(layer, name, param.data, (), is_state=False)
        for prefix, layer in self._named_layers():
            for name, template in layer._lazy_templates().items():
                if not layer.is_initialized(name):
                    targets.setdefault(prefix + name, _Target(layer, name, None, template, is_state=False))
        for prefix, layer in self._named_layers():
            for name, array in layer._state_arrays().items():
                targets.setdefault(prefix + name, _Target(layer, name, array, (), is_state=True))
            for name, template in layer._lazy_state_templates().items():
                if not layer.is_initialized(name):
                    targets.setdefault(prefix + name, _Target(layer, name, None, template, is_state=True))
        return targets

    @typechecked
    def save_weights(
        self,
        path: str | os.PathLike[str],
        *,
        format: _io.WeightsFormat | None = None,  # noqa: A002 - the builtin format() is not needed here
    ) -> None:
        """Write every parameter and state array to a weights file at exactly `path`, atomically (a
        temporary file in the same folder, then a rename: a failure never leaves half a file).

        The file is an .npz archive, or a safetensors file when `format` is ``"safetensors"`` or, with
        `format` None, when `path` ends in ".safetensors" (writing one needs the ``safetensors`` extra:
        ``pip install 'typed_dezero[safetensors]'``). Both hold the same names (``"l1/W"``, the keys
        of :meth:`state_dict`) and float64 arrays.

        Examples:
            >>> import os, tempfile
            >>> import numpy as np
            >>> import typed_dezero.layers as L
            >>> layer = L.Linear(2, in_size=3)
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     path = os.path.join(tmp, "linear")  # no ".npz" is appended: the path is used as given
            ...     layer.save_weights(path)
            ...     layer.save_weights(os.path.join(tmp, "linear.safetensors"))
            ...     copy = L.Linear(2)  # lazy: its W is created from the file
            ...     copy.load_weights(path)
            ...     sorted(os.listdir(tmp))
            ['linear', 'linear.safetensors']
            >>> bool(np.array_equal(copy.W.data, layer.W.data))
            True
        """
        where = f"{type(self).__name__}.save_weights"
        _io.save_weights_file(where, path, self.state_dict(), format)

    @typechecked
    def load_weights(
        self,
        path: str | os.PathLike[str],
        *,
        format: _io.WeightsFormat | None = None,  # noqa: A002 - as save_weights
    ) -> None:
        """Load a weights file written by :meth:`save_weights` (never executing code from it); on any
        mismatch the model is left untouched (see :meth:`load_state_dict`).

        The format is picked as by :meth:`save_weights` (a safetensors file is read without the
        safetensors package). The file must hold exactly the model's arrays, with their shapes (for
        a lazy parameter not created yet: any size its layer accepts where the shape is open) and
        floating dtypes (float64 for safetensors); anything else is a WeightsFileError raised before
        the arrays' data is read, so that a damaged or foreign file never makes the model allocate
        more than it needs."""
        expected = {
            key: _io.ArraySpec(target.template if target.current is None else target.current.shape)
            for key, target in self._load_targets().items()
        }
        where = f"{type(self).__name__}.load_weights"
        self.load_state_dict(_io.load_weights_file(where, path, expected, format))


_CallPlan: TypeAlias = tuple[
    list[tuple["weakref.ref[Layer[Any, Any]]", list[str]]],
    tuple[np.random.Generator, ...],
    list["weakref.ref[Layer[Any, Any]]"],
]
"""(layers with lazy names not created yet, their generators, layers holding state arrays)."""

_guarded: Final[ContextVar[bool]] = ContextVar("typed_dezero.layer_call_guarded", default=False)
"""True inside a layer call that guards the whole tree (see Layer.__call__)."""

_structure: Final[list[int]] = [0]
"""Bumped whenever any layer gains or loses a parameter, sub-layer or state array: cached call
plans are then recomputed."""

_plans: Final[weakref.WeakKeyDictionary[Layer[Any, Any], tuple[int, _CallPlan | None]]] = (
    weakref.WeakKeyDictionary()
)


def _changed() -> None:
    _structure[0] += 1


class _Target(NamedTuple):
    """Where one entry of a state dict goes: a parameter or state array of `layer`."""

    layer: Layer[Any, Any]
    name: str
    current: Arr | None  # None: created from the loaded array (lazy)
    template: ShapeTemplate
    is_state: bool


def _check_template(owner: str, name: str, template: ShapeTemplate, shape: Shape) -> None:
    if len(template) != len(shape) or any(
        t is not None and t != s for t, s in zip(template, shape, strict=False)
    ):
        expected = tuple("?" if t is None else t for t in template)
        msg = f"{owner}.{name}: expected a shape like {expected}, got {shape}"
        raise ShapeError(msg)


def _is_mapping(x: object) -> TypeGuard[Mapping[Any, object]]:
    return isinstance(x, Mapping)


def _is_float_array(x: object) -> TypeGuard[npt.NDArray[np.floating[Any]]]:
    kind: object = getattr(getattr(x, "dtype", None), "kind", None)
    return kind == "f" and isinstance(x, np.ndarray)


def _require_f64(where: str, value: object) -> None:
    # Takes `object` so that callers typed `Arr` keep a reachable error branch for the checkers.
    if not is_f64_array(value):
        msg = f"{where}: expected a float64 ndarray, got {describe(value)}; {f64_hint(value)}"
        raise DezeroTypeError(msg)

"""Function: the generic engine every differentiable operation subclasses, and its arity bases.

Two ways to write a Function:

* typed (precise and checked): subclass :class:`UnaryFunction`, :class:`BinaryFunction`,
  :class:`TernaryFunction` or :class:`TwoOutputFunction`; mypy and pyright then check the arity of
  ``forward``/``backward`` and infer exact call results (``Variable``, ``tuple[Variable, Variable]``);
* DeZero's way (familiar): subclass :class:`Function` directly with any number of inputs; calling it
  returns one Variable, or a tuple of Variables when ``forward`` returns a tuple of arrays.

Either way a call takes Variables or float64 arrays (an array becomes a constant; a bare number is
refused, as the built-in functions refuse it), ``forward`` receives float64 arrays and returns a
float64 array (or a tuple of them), and ``backward`` receives one gradient Variable per output and
returns one gradient Variable per input (so gradients are themselves differentiable).
``forward``/``backward`` of every subclass are wrapped with the runtime type checker when the class
is created; what they get wrong is reported in typed_dezero's words, with beartype's violation as
the cause.
"""

from __future__ import annotations

import copy
import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, TypeAlias, cast, overload

import numpy as np
from typing_extensions import TypeVar, override

from typed_dezero._checking import TypeCheckError, check_method, forward_fix, method_violation
from typed_dezero._typing import (
    FLOAT64,
    Arr,
    Shape,
    describe,
    f64_hint,
    is_f64_array,
    is_tuple,
)
from typed_dezero.config import flags_var
from typed_dezero.core.anomaly import check_forward, creation_site
from typed_dezero.errors import DezeroTypeError, GraphError

if TYPE_CHECKING:
    # Variable is imported at the bottom (the cycle with variable.py): named here for the checkers.
    Input: TypeAlias = "Variable | Arr"
    """What a Function takes: Variables or float64 arrays (bare numbers are refused)."""

__all__ = [
    "SKIPPED_GRAD",
    "BinaryFunction",
    "Function",
    "TernaryFunction",
    "TwoOutputFunction",
    "UnaryFunction",
]

In = TypeVar("In", bound=tuple[Arr, ...], default=tuple[Arr, ...])
"""The tuple of arrays ``forward`` takes: ``tuple[Arr]`` for one input, ``tuple[Arr, Arr]`` for two."""
Out = TypeVar("Out", bound=Arr | tuple[Arr, ...], default=Arr | tuple[Arr, ...])
"""What ``forward`` returns: ``Arr`` for one output, ``tuple[Arr, Arr]`` for two."""


class Function(ABC, Generic[In, Out]):
    """Base of every differentiable operation; ``Function[In, Out]`` states its arity.

    After a call with backprop enabled, ``inputs`` holds the input Variables, ``outputs`` weak
    references to the outputs and ``generation`` the graph depth used to order backward. A
    Function instance is one node of one graph: calling it a second time while recording raises
    :class:`~typed_dezero.errors.GraphError` before its ``forward`` runs (the lowercase helpers
    create a fresh instance per call). Under ``no_grad`` an instance may be called again, from any
    thread: a call that finds it recorded, or in use by another call, runs ``forward`` on a shallow
    copy, so what ``forward`` stores on ``self`` for the first graph's backward is never overwritten.
    """

    inputs: tuple[Variable, ...] = ()
    _output_refs: weakref.ref[Variable] | tuple[weakref.ref[Variable], ...] = ()
    """What ``outputs`` reads: one output's reference alone (a tuple per node would be one more
    object for the garbage collector to visit, in every graph), several outputs' as a tuple."""
    generation: int = 0
    output_shapes: tuple[Shape, ...] = ()
    _claimed_by: tuple[Variable, ...] | None = None
    """The inputs of the call that holds this instance (see ``__call__``)."""
    created_at: str | None = None
    """Under ``detect_anomaly()``: the line of user code that called this Function."""

    has_backward_data: ClassVar[bool] = False
    """Whether the class defines :meth:`backward_data` (set when the class is created)."""

    _checked_methods: ClassVar[tuple[str, ...]] = ("forward", "backward")

    @override
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Runtime checking of every subclass, users' included, without decorating by hand.
        for name in cls._checked_methods:
            method = cls.__dict__.get(name)
            if method is None or getattr(method, "__isabstractmethod__", False):
                continue
            setattr(cls, name, check_method(cls, name, method, scalar_results=name == "forward"))
        # backward_data is not wrapped: its arguments come from the engine, which also checks every
        # result it returns (dtype and shape, checks on or off), so a wrapper would only cost time.
        if "backward_data" in cls.__dict__ and cls.__module__ != __name__:
            cls.has_backward_data = True  # the arity bases below only declare it

    @overload
    def __call__(self: Function[tuple[Arr], Arr], x: Input, /) -> Variable: ...
    @overload
    def __call__(self: Function[tuple[Arr, Arr], Arr], x0: Input, x1: Input, /) -> Variable: ...
    @overload
    def __call__(
        self: Function[tuple[Arr, Arr, Arr], Arr], x0: Input, x1: Input, x2: Input, /
    ) -> Variable: ...
    @overload
    def __call__(self: Function[tuple[Arr], tuple[Arr, Arr]], x: Input, /) -> tuple[Variable, Variable]: ...
    @overload
    def __call__(self: Function[tuple[Arr, ...], Arr | tuple[Arr, ...]], *inputs: Input) -> Any: ...
    def __call__(self, *inputs: Input) -> Variable | tuple[Variable, ...]:  # noqa: PLR0912, PLR0915 - hot path, inlined
        # The hot path of the library (one call per operation): no needless work here.
        # `inputs` itself when all are Variables (the common case): no list, no new tuple.
        xs: tuple[Variable, ...]
        for x in inputs:
            if not isinstance(x, Variable):
                xs = tuple(
                    [v if isinstance(v, Variable) else _operand_to_variable(self, inputs, v) for v in inputs]
                )
                break
        else:
            xs = cast("tuple[Variable, ...]", inputs)  # each was just seen to be a Variable
        switches = flags_var.get()
        record = switches.enable_backprop
        # An instance is claimed by one call at a time, and for good by the call that records it as
        # a node: so a second call, refused or allowed, in this thread or another, never overwrites
        # what forward saved on self for the first graph's backward. A recording call that cannot
        # claim it is refused before its forward runs; a call under no_grad runs on a private copy.
        # The test and the store below have no call between them: under the GIL, CPython switches
        # threads (and runs signal handlers) only at calls and backward jumps, so no other call
        # can claim the instance in between.
        if self._claimed_by is None:
            self._claimed_by = xs
            node = self
        elif record:
            raise _reused(self)
        else:
            node = self._private_copy()
        kept = False
        try:
            # One and two inputs spelled out: a list comprehension is a call of its own in 3.11. The
            # engine's two halves share Variable's slot: the `data` property costs 7% of an operation.
            n_in = len(xs)
            if n_in == 1:
                ys: Any = node.forward(xs[0]._data)  # pyright: ignore[reportPrivateUsage]
            elif n_in == 2:
                ys = node.forward(xs[0]._data, xs[1]._data)  # pyright: ignore[reportPrivateUsage]
            else:
                ys = node.forward(*[x.data for x in xs])
            if not is_tuple(ys):
                # One output, usually a float64 ndarray (checked inline here, the rest in the helper).
                if type(ys) is np.ndarray and ys.dtype is FLOAT64:
                    y = Variable(ys)
                elif type(ys) is np.float64:  # what NumPy returns from operations on 0-d arrays
                    y = Variable(np.asarray(ys))
                else:
                    y = _output_variable(self, ys)
                if switches.detect_anomaly:
                    node._watch(xs, (y,))
                if record:
                    if n_in == 1:
                        generation = xs[0].generation
                    elif n_in == 2:
                        g0, g1 = xs[0].generation, xs[1].generation
                        generation = g0 if g0 > g1 else g1
                    else:
                        generation = max([x.generation for x in xs], default=0)
                    y.creator = self
                    y.generation = generation + 1
                    self.generation = generation
                    self.inputs = xs
                    self._output_refs = weakref.ref(y)
                    kept = True
                return y
            outputs = self._outputs(node, xs, ys, record=record, anomaly=switches.detect_anomaly)
            kept = record
            return outputs[0] if len(outputs) == 1 else outputs
        except TypeCheckError as violation:  # costs nothing unless raised (zero-cost exceptions)
            error = method_violation(node, "forward", violation)
            if error is None:
                raise  # not about forward's own arguments or result
            raise error from violation
        finally:
            if node is self and not kept:
                self._claimed_by = None

    @property
    def outputs(self) -> tuple[weakref.ref[Variable], ...]:
        """Weak references to the outputs, in order (empty before a call that recorded the node)."""
        refs = self._output_refs
        return refs if isinstance(refs, tuple) else (refs,)

    @outputs.setter
    def outputs(self, refs: Sequence[weakref.ref[Variable]]) -> None:
        self._output_refs = tuple(refs)

    def _private_copy(self) -> Function[Any, Any]:
        # For a call under no_grad of an instance held by another call: whatever its forward stores
        # on the copy stays there. A shallow copy: forward must assign its attributes, not mutate them.
        node = copy.copy(self)
        node._claimed_by = None
        return node

    def _outputs(
        self,
        node: Function[Any, Any],
        xs: tuple[Variable, ...],
        ys: tuple[object, ...],
        *,
        record: bool,
        anomaly: bool,
    ) -> tuple[Variable, ...]:
        """The Variables of a forward that returned a tuple (several outputs), recorded as outputs
        of this node when `record`."""
        outputs = tuple([_output_variable(self, y) for y in ys])
        if anomaly:
            node._watch(xs, outputs)
        if record:
            generation = max([x.generation for x in xs], default=0)
            for y in outputs:
                y.creator = self
                y.generation = generation + 1
            self.generation = generation
            self.inputs = xs
            self._output_refs = tuple([weakref.ref(y) for y in outputs])
            # backward feeds zeros for an output that got no gradient, even once it is dropped
            self.output_shapes = tuple([y.shape for y in outputs])
        return outputs

    def _watch(self, xs: tuple[Variable, ...], outputs: tuple[Variable, ...]) -> None:
        self.created_at = creation_site()
        check_forward(self, [x.data for x in xs], [y.data for y in outputs])

    def forward(self, *xs: Any, **kwargs: Any) -> Any:
        """Compute the outputs from the input arrays (float64 arrays in, float64 array(s) out)."""
        msg = f"{type(self).__name__} must define forward()"
        raise NotImplementedError(msg)

    def backward(self, *gys: Any, **kwargs: Any) -> Any:
        """Gradients of the inputs from the gradients of the outputs (Variables in, Variables out)."""
        msg = f"{type(self).__name__} does not define backward(), so it cannot be differentiated"
        raise NotImplementedError(msg)

    def backward_data(self, *gys: Any, **kwargs: Any) -> Any:
        """Optional: the same gradients as :meth:`backward`, on plain float64 arrays.

        When a subclass defines it, ``Variable.backward()`` without ``create_graph`` calls it instead
        of ``backward``: no graph nodes are built for gradients nobody will differentiate, which makes
        first-order backpropagation much faster. It must agree with ``backward``. For an input whose
        ``requires_grad`` is False it may return :data:`SKIPPED_GRAD` instead of computing a gradient.
        """
        raise _no_backward_data(self)


SKIPPED_GRAD: Final[Arr] = np.empty(0)
"""What :meth:`Function.backward_data` may return for an input whose ``requires_grad`` is False
(e.g. a raw array operand): the engine ignores that entry, so the gradient need not be computed."""
SKIPPED_GRAD.flags.writeable = False


def _reused(fn: Function[Any, Any]) -> GraphError:
    if fn.outputs:
        msg = (
            f"{type(fn).__name__} instance was already called while recording a graph; a Function "
            "instance is one node of the graph, so create a new one per call"
        )
    else:
        msg = (
            f"{type(fn).__name__} instance is being called by another call (another thread, or its own "
            "forward) and cannot also record a graph; create a new instance per call"
        )
    return GraphError(msg)


def _no_backward_data(fn: object) -> NotImplementedError:
    return NotImplementedError(f"{type(fn).__name__} does not define backward_data()")


def _operand_to_variable(fn: object, inputs: tuple[object, ...], x: object) -> Variable:
    # A raw array becomes a constant: nobody holds its Variable, so its gradient is never needed.
    # Bare numbers are refused, as the built-in functions refuse them (and DeZero's Function does):
    # the operators turn a number operand into a constant of their own before calling a Function.
    if is_f64_array(x):
        constant = Variable(x)
        constant.requires_grad = False
        return constant
    msg = (
        f"{type(fn).__name__}: input {_position(inputs, x)} must be a Variable or a float64 ndarray, "
        f"got {describe(x)}; {f64_hint(x)}"
    )
    raise DezeroTypeError(msg)


def _position(inputs: tuple[object, ...], x: object) -> int:
    return next(i for i, item in enumerate(inputs) if item is x)


def _output_variable(fn: object, y: object) -> Variable:
    if type(y) is np.float64:  # what NumPy returns from operations on 0-d arrays
        return Variable(np.asarray(y))
    if is_f64_array(y):
        return Variable(y)
    msg = (
        f"{type(fn).__name__}.forward must return float64 ndarrays, returned {describe(y)}; {forward_fix(y)}"
    )
    raise DezeroTypeError(msg)


class UnaryFunction(Function[tuple[Arr], Arr]):
    """One input, one output: ``forward(x) -> y``, ``backward(gy) -> gx``."""

    @abstractmethod
    @override
    def forward(self, x: Arr, /) -> Arr: ...

    @abstractmethod
    @override
    def backward(self, gy: Variable, /) -> Variable: ...

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        raise _no_backward_data(self)


class BinaryFunction(Function[tuple[Arr, Arr], Arr]):
    """Two inputs, one output: ``forward(x0, x1) -> y``, ``backward(gy) -> (gx0, gx1)``."""

    @abstractmethod
    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr: ...

    @abstractmethod
    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]: ...

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        raise _no_backward_data(self)


class TernaryFunction(Function[tuple[Arr, Arr, Arr], Arr]):
    """Three inputs, one output: ``forward(x0, x1, x2) -> y``, ``backward(gy) -> (gx0, gx1, gx2)``."""

    @abstractmethod
    @override
    def forward(self, x0: Arr, x1: Arr, x2: Arr, /) -> Arr: ...

    @abstractmethod
    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable, Variable]: ...

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr, Arr]:
        raise _no_backward_data(self)


class TwoOutputFunction(Function[tuple[Arr], tuple[Arr, Arr]]):
    """One input, two outputs: ``forward(x) -> (y0, y1)``, ``backward(gy0, gy1) -> gx``.

    An output that received no gradient (unused, or dropped) contributes zeros to ``backward``.
    """

    @abstractmethod
    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]: ...

    @abstractmethod
    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable: ...

    @override
    def backward_data(self, gy0: Arr, gy1: Arr, /) -> Arr:
        raise _no_backward_data(self)


# Variable's operators call the function library, which subclasses the bases above: import
# Variable last, once those bases exist, so that the cycle resolves whichever module comes first.
from typed_dezero.core.variable import Variable  # noqa: E402

"""Variable: a float64 array with a gradient and a link to the Function that made it."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, TypeGuard, overload

import numpy as np

from typed_dezero._typing import (
    FLOAT64,
    Arr,
    Axis,
    Index,
    Shape,
    describe,
    f64_hint,
    is_f64_array,
    is_real_scalar,
    is_tuple,
)
from typed_dezero.config import flags_var
from typed_dezero.errors import DezeroTypeError, DezeroValueError, ShapeError

if TYPE_CHECKING:
    import weakref

    from typed_dezero.core.function import Function

__all__ = [
    "Operand",
    "Parameter",
    "Variable",
    "as_array",
    "as_variable",
    "float_constant",
    "is_variable",
    "to_variable",
]


def _data_error(where: str, data: object) -> DezeroTypeError:
    if data is None:
        return DezeroTypeError(
            f"{where}: data must be a numpy.ndarray of dtype float64, got None. typed_dezero has no empty "
            "Variables; a layer whose parameter shapes are known only at the first call creates its "
            "Parameters then (see typed_dezero.layers)."
        )
    return DezeroTypeError(
        f"{where}: data must be a numpy.ndarray of dtype float64, got {describe(data)}; {f64_hint(data)}"
    )


class Variable:
    """A node of the computational graph: float64 `data`, its gradient `grad`, and its `creator`.

    Arguments:
        data: a ``numpy.ndarray`` of dtype float64, any shape (0-d included). Anything else
            (Python numbers, lists, NumPy scalars, arrays of another dtype) raises ``TypeError``.
        name: an optional label, shown by ``repr`` and in graph drawings.

    Arithmetic operators accept a Variable, a float64 array or a Python int/float on either side
    and always return a Variable.
    """

    __slots__ = ("__weakref__", "_data", "_grad", "creator", "generation", "name", "requires_grad")
    # NumPy must hand `ndarray <op> Variable` to our reflected operators instead of looping over
    # elements, and explicit ufunc calls such as np.exp(x) must fail loudly.
    __array_ufunc__: ClassVar[None] = None

    _data: Arr
    _grad: Variable | None
    creator: Function[Any, Any] | None
    generation: int
    name: str | None
    requires_grad: bool
    """Whether backward computes this Variable's gradient (default True). Variables that a Function
    makes from a raw array or number operand have it False: nobody can read their gradient. So has
    the seed of ones that ``backward()`` puts in ``grad``: a constant, as in PyTorch, so that a
    ``create_graph`` pass builds no nodes for the gradient of the seed."""

    def __init__(self, data: Arr, name: str | None = None) -> None:
        # The common case inline (this runs for every output of every operation), the guard after.
        if (type(data) is not np.ndarray or data.dtype is not FLOAT64) and not is_f64_array(data):
            raise _data_error(type(self).__name__, data)
        if name is not None and type(name) is not str:
            msg = f"{type(self).__name__}: name must be a str or None, got {describe(name)}"
            raise DezeroTypeError(msg)
        self._data = data
        self._grad = None
        self.name = name
        self.creator = None
        self.generation = 0
        self.requires_grad = True

    # -- data and gradient -------------------------------------------------------------------

    @property
    def data(self) -> Arr:
        """The float64 array this Variable holds."""
        return self._data

    @data.setter
    def data(self, value: Arr) -> None:
        """Replace the array; a gradient of another shape than the new array's is cleared."""
        if not is_f64_array(value):
            raise _data_error(f"{type(self).__name__}.data", value)
        grad = self._grad
        if grad is not None and grad._data.shape != value.shape:
            self._grad = None  # a gradient of the old shape means nothing for the new data
        self._data = value

    @property
    def grad(self) -> Variable | None:
        """The gradient, a Variable of the same shape as `data`, or None before backward."""
        return self._grad

    @grad.setter
    def grad(self, value: Variable | None) -> None:
        if value is not None:
            if not is_variable(value):
                msg = (
                    f"{type(self).__name__}.grad must be a Variable or None, got {describe(value)}; "
                    "wrap an array with Variable(array)"
                )
                raise DezeroTypeError(msg)
            if value.shape != self._data.shape:
                msg = (
                    f"{type(self).__name__}.grad must have the shape of data; "
                    f"got grad.shape={value.shape}, data.shape={self._data.shape}"
                )
                raise ShapeError(msg)
        self._grad = value

    def cleargrad(self) -> None:
        """Forget the gradient (before reusing the Variable in a new computation)."""
        self._grad = None

    # -- graph -------------------------------------------------------------------------------

    def set_creator(self, func: Function[Any, Any]) -> None:
        """Record `func` as the Function that produced this Variable (done by Function.__call__)."""
        self.creator = func
        self.generation = func.generation + 1

    def unchain(self) -> None:
        """Cut the link to the creator, making this Variable a leaf of any later graph."""
        self.creator = None

    def unchain_backward(self) -> None:
        """Cut every creator link behind this Variable (truncated backpropagation through time).

        This Variable keeps its own creator; every other Variable computed by the graph behind it
        becomes a leaf, the other outputs of a multi-output Function included (an LSTM step's cell
        state is one: a later backward that reaches it stops there). The walk is iterative, so any
        depth works."""
        creator = self.creator
        if creator is None:
            return
        stack = [creator]
        seen = {creator}
        while stack:
            f = stack.pop()
            refs = f._output_refs  # pyright: ignore[reportPrivateUsage] - the engine's own representation
            if isinstance(refs, tuple):
                # Outputs used by the graph behind self are cut below, as inputs; a sibling used only
                # by later graphs (or by none) would otherwise keep the forgotten node reachable.
                for ref in refs:
                    y = ref()
                    if y is not None and y is not self and y.creator is f:
                        y.creator = None
            for x in f.inputs:
                c = x.creator
                if c is not None:
                    x.creator = None
                    if c not in seen:
                        seen.add(c)
                        stack.append(c)

    def backward(self, retain_grad: bool = False, create_graph: bool = False) -> None:  # noqa: PLR0912, PLR0915 - the hot loop stays in one frame
        """Compute the gradient of this Variable with respect to every Variable it depends on.

        The seed gradient is ``grad`` if set, else ones. Gradients accumulate into each input's
        ``grad``. Intermediate gradients (this Variable's included) are released unless
        `retain_grad`; with `create_graph` the backward pass is itself recorded, so gradients can be
        differentiated again. Functions run in decreasing generation order from a heap, so every
        gradient is complete before it is propagated, in O(N log N) for N functions, without recursion.
        """
        _check_flag("retain_grad", retain_grad)
        _check_flag("create_graph", create_graph)
        creator = self.creator
        if creator is None:
            if self._grad is None:
                self._grad = Variable(np.ones_like(self._data))
            return
        # Every Variable whose gradient this pass writes is journaled first, with its gradient before
        # the pass, so that any exception, KeyboardInterrupt and MemoryError included, puts them all
        # back: a failed backward changes no gradient and can simply be retried.
        # An undo log in two parallel lists (no tuple per entry, appended in order): undone
        # backwards, each Variable ends with the gradient of its first entry, the one before the pass.
        # A Variable is logged before its gradient, and its gradient before it is written: a
        # Variable without a logged gradient (interrupted in between) was not written.
        written: list[Variable] = [self]
        before: list[Variable | None] = [self._grad]
        log_variable, log_grad = written.append, before.append
        # Entries are (-generation, insertion order, function): deepest first, ties stable.
        tie = 0
        heap: list[tuple[int, int, Function[Any, Any]]] = [(-creator.generation, 0, creator)]
        seen = {creator}
        pop, push = heapq.heappop, heapq.heappush
        switches = flags_var.get()
        anomaly = switches.detect_anomaly
        # The gradients this pass summed into arrays of its own (id of the Variable -> its gradient):
        # no one else holds those arrays, so further terms are added in place, with no new array
        # per term (a parameter of a recurrent layer gets one per step). An array a Function
        # returned is never changed: it may be another gradient, or what a Function saved.
        owned: dict[int, Variable] = {}
        # Inside backward, each step's gradients are checked as a whole (check_backward below), so the
        # Functions that a differentiable backward calls do not run their own forward checks.
        try:
            token = flags_var.set(switches._replace(enable_backprop=create_graph, detect_anomaly=False))
            if self._grad is None:
                seed = Variable(np.ones_like(self._data))
                seed.requires_grad = False  # a constant (see requires_grad)
                self._grad = seed
            while heap:
                f = pop(heap)[2]
                # One output's reference alone, several outputs' as a tuple: the representation
                # behind Function.outputs, read here because that property builds a tuple per read.
                refs = f._output_refs  # pyright: ignore[reportPrivateUsage]
                if not create_graph and f.has_backward_data:
                    # First-order fast path: the Function's derivative on plain arrays, no graph nodes.
                    pairs = Variable._array_grads(f, refs)
                    if anomaly:
                        check_backward(f, Variable._output_grad_arrays(f), [ga for _, ga in pairs])
                    for x, ga in pairs:
                        old = x._grad
                        if old is not None and owned.get(id(x)) is old and not anomaly:
                            # (no log entry: x's first entry, before this array existed, undoes it)
                            np.add(old._data, ga, out=old._data)
                        else:
                            log_variable(x)
                            log_grad(old)
                            if old is None:
                                x._grad = Variable(ga)
                            else:
                                total = np.asarray(old._data + ga)
                                if anomaly:
                                    check_accumulation(f, old._data, ga, total)
                                x._grad = owned[id(x)] = Variable(total)
                        c = x.creator
                        if c is not None and c not in seen:
                            seen.add(c)
                            tie += 1
                            push(heap, (-c.generation, tie, c))
                else:
                    grads = backward_step(f)
                    if anomaly:
                        check_backward(f, Variable._output_grad_arrays(f), [g._data for g in grads])
                    for x, gx in zip(f.inputs, grads, strict=True):
                        if not x.requires_grad:
                            continue
                        old = x._grad
                        if old is not None and owned.get(id(x)) is old and not anomaly:
                            np.add(old._data, gx._data, out=old._data)  # (as above: no entry)
                        else:
                            log_variable(x)
                            log_grad(old)
                            if old is None:
                                x._grad = gx
                            elif create_graph:
                                x._grad = old + gx
                            else:
                                # Without create_graph, add the arrays: no Add node is wanted.
                                total = np.asarray(old._data + gx._data)
                                if anomaly:
                                    check_accumulation(f, old._data, gx._data, total)
                                x._grad = owned[id(x)] = Variable(total)
                        c = x.creator
                        if c is not None and c not in seen:
                            seen.add(c)
                            tie += 1
                            push(heap, (-c.generation, tie, c))
                if not retain_grad:
                    if not isinstance(refs, tuple):
                        # A node with one output was reached through it, and this pass wrote and
                        # logged its gradient (or it is self): releasing it needs no entry of its own.
                        y = refs()
                        if y is not None:
                            y._grad = None
                            owned.pop(id(y), None)
                    else:
                        for ref in refs:
                            y = ref()
                            if y is not None:
                                log_variable(y)
                                log_grad(y._grad)
                                y._grad = None
                                owned.pop(id(y), None)
            flags_var.reset(token)  # last: an interrupt at any step before it undoes the whole pass
        except BaseException:
            flags_var.set(switches)  # (not reset: the token may be used up, or never made)
            for i in range(len(before) - 1, -1, -1):
                written[i]._grad = before[i]
            raise

    @staticmethod
    def _array_grads(  # noqa: PLR0912 - hot path, inlined
        f: Function[Any, Any], refs: weakref.ref[Variable] | tuple[weakref.ref[Variable], ...]
    ) -> list[tuple[Variable, Arr]]:
        """``f.backward_data`` on the gradients' arrays of its outputs (`refs`, ``f._output_refs``),
        checked: a float64 array of the right shape for each input that requires a gradient, paired
        with that input (see typed_dezero.core.backprop for the Variable flavour)."""
        inputs = f.inputs
        for x in inputs:
            if x.requires_grad:
                break
        else:
            return []  # only constants in: nothing to compute
        result: Any
        if not isinstance(refs, tuple):
            # A single output is alive: the walk reached f through it.
            y = refs()
            g = None if y is None else y._grad
            result = f.backward_data(g._data if g is not None else zeros_for_output(f, 0))
        else:
            result = f.backward_data(*[Variable._output_grad_data(f, i) for i in range(len(refs))])
        gxs = result if is_tuple(result) else (result,)
        if len(gxs) == len(inputs):
            pairs: list[tuple[Variable, Arr]] = []
            for gx, x in zip(gxs, inputs, strict=True):
                if not x.requires_grad:
                    continue  # whatever backward_data returned for it is ignored
                if type(gx) is np.ndarray and gx.dtype is FLOAT64 and gx.shape == x._data.shape:
                    pairs.append((x, gx))
                elif type(gx) is np.float64 and x._data.ndim == 0:  # NumPy's result on 0-d arrays
                    pairs.append((x, np.asarray(gx)))
                elif is_f64_array(gx) and gx.shape == x._data.shape:  # e.g. unpickled: an equal dtype object
                    pairs.append((x, gx))
                else:
                    break
            else:
                return pairs
        raise array_grads_error(f, result)

    @staticmethod
    def _output_grad_arrays(f: Function[Any, Any]) -> list[Arr]:
        return [Variable._output_grad_data(f, i) for i in range(len(f.outputs))]

    @staticmethod
    def _output_grad_data(f: Function[Any, Any], i: int) -> Arr:
        y = f.outputs[i]()
        g = None if y is None else y._grad
        return g._data if g is not None else zeros_for_output(f, i)

    # -- array-like properties -----------------------------------------------------------------

    @property
    def shape(self) -> Shape:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype[np.float64]:
        return self._data.dtype

    def __len__(self) -> int:
        if self._data.ndim == 0:
            msg = f"len() of a 0-d {type(self).__name__} is undefined (shape ())"
            raise DezeroTypeError(msg)
        return len(self._data)

    def __iter__(self) -> Iterator[Variable]:
        """Iterate over the first axis, as over an ndarray (each item is differentiable)."""
        for i in range(len(self)):
            yield shape_ops.get_item(self, i)

    def __repr__(self) -> str:
        prefix = type(self).__name__.lower()
        body = str(self._data).replace("\n", "\n" + " " * (len(prefix) + 1))
        suffix = f", name={self.name!r}" if self.name is not None else ""
        return f"{prefix}({body}{suffix})"

    # -- operators ----------------------------------------------------------------------------

    def __add__(self, other: Operand) -> Variable:
        return arithmetic.add(self, other)

    def __radd__(self, other: Operand) -> Variable:
        return arithmetic.add(other, self)

    def __sub__(self, other: Operand) -> Variable:
        return arithmetic.sub(self, other)

    def __rsub__(self, other: Operand) -> Variable:
        return arithmetic.sub(other, self)

    def __mul__(self, other: Operand) -> Variable:
        return arithmetic.mul(self, other)

    def __rmul__(self, other: Operand) -> Variable:
        return arithmetic.mul(other, self)

    def __truediv__(self, other: Operand) -> Variable:
        return arithmetic.div(self, other)

    def __rtruediv__(self, other: Operand) -> Variable:
        return arithmetic.div(other, self)

    def __pow__(self, other: Operand) -> Variable:
        return arithmetic.pow(self, other)

    def __rpow__(self, other: Operand) -> Variable:
        return arithmetic.pow(other, self)

    def __neg__(self) -> Variable:
        return arithmetic.neg(self)

    def __matmul__(self, other: Variable | Arr) -> Variable:
        return linalg.matmul(self, other)

    def __rmatmul__(self, other: Variable | Arr) -> Variable:
        return linalg.matmul(other, self)

    def __getitem__(self, index: Index) -> Variable:
        return shape_ops.get_item(self, index)

    # -- methods delegating to typed_dezero.functions ------------------------------------------

    @overload
    def reshape(self, shape: Sequence[int], /) -> Variable: ...
    @overload
    def reshape(self, *shape: int) -> Variable: ...
    def reshape(self, *shape: int | Sequence[int]) -> Variable:
        """``x.reshape(2, 3)``, ``x.reshape((2, 3))`` or ``x.reshape([2, 3])``; see
        :func:`typed_dezero.functions.reshape`."""
        return shape_ops.reshape(self, _dims("reshape", shape))

    @overload
    def transpose(self, axes: Sequence[int] | None = None, /) -> Variable: ...
    @overload
    def transpose(self, *axes: int) -> Variable: ...
    def transpose(self, *axes: int | Sequence[int] | None) -> Variable:
        """``x.transpose()``, ``x.transpose(1, 0, 2)``, ``x.transpose((1, 0, 2))`` or
        ``x.transpose([1, 0, 2])``."""
        if not axes or (len(axes) == 1 and axes[0] is None):
            return shape_ops.transpose(self, None)
        return shape_ops.transpose(self, _dims("transpose", axes))

    @property
    def T(self) -> Variable:
        """All axes reversed, as ``ndarray.T``."""
        return shape_ops.transpose(self, None)

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Variable:
        """Sum over `axis` (int, tuple or list of ints, or None for all); see
        :func:`typed_dezero.functions.sum`."""
        return reduction.sum(self, axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Variable:
        """Mean over `axis`; see :func:`typed_dezero.functions.mean`."""
        return reduction.mean(self, axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Variable:
        """Maximum over `axis`; see :func:`typed_dezero.functions.max`."""
        return reduction.max(self, axis, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Variable:
        """Minimum over `axis`; see :func:`typed_dezero.functions.min`."""
        return reduction.min(self, axis, keepdims)

    def matmul(self, other: Variable | Arr) -> Variable:
        """Matrix product with NumPy's matmul semantics, as ``self @ other``."""
        return linalg.matmul(self, other)

    def dot(self, other: Variable | Arr) -> Variable:
        """Alias of :meth:`matmul` (DeZero's spelling)."""
        return linalg.matmul(self, other)


def _check_flag(name: str, value: object) -> None:
    if type(value) is not bool:
        msg = f"backward: {name} must be a bool, got {describe(value)}"
        raise DezeroTypeError(msg)


def is_variable(x: object) -> TypeGuard[Variable]:
    """True when `x` is a Variable (or a Parameter)."""
    return isinstance(x, Variable)


class Parameter(Variable):
    """A Variable that a Layer registers as trainable (see ``typed_dezero.layers``)."""

    __slots__ = ()


Operand: TypeAlias = Variable | Arr | float
"""What arithmetic accepts on either side: a Variable, a float64 array, or a Python int/float."""


def _dims(where: str, args: tuple[int | Sequence[int] | None, ...]) -> Sequence[int]:
    """The shape or axes of ``x.reshape(...)`` / ``x.transpose(...)``: one sequence (checked by the
    function it goes to) or ints."""
    if len(args) == 1 and args[0] is not None and not isinstance(args[0], int):
        return args[0]
    dims: list[int] = []
    for a in args:
        if type(a) is not int:
            msg = f"{where}: expected ints or one tuple of ints (or a list of ints), got {describe(a)}"
            raise DezeroTypeError(msg)
        dims.append(a)
    return tuple(dims)


def as_array(x: Arr | float) -> Arr:
    """Return `x` as a float64 ndarray: arrays pass through, Python and NumPy float64 scalars become
    0-d arrays (NumPy returns scalars from operations on 0-d arrays). Raises TypeError otherwise."""
    if is_f64_array(x):
        return x
    if is_real_scalar(x):
        return np.array(float_constant("as_array", x, "x"), dtype=np.float64)
    msg = f"as_array: expected a float64 ndarray or a Python/NumPy float, got {describe(x)}; {f64_hint(x)}"
    raise DezeroTypeError(msg)


def as_variable(obj: Variable | Arr) -> Variable:
    """Return `obj` if it is a Variable, else wrap a float64 ndarray in one; TypeError otherwise."""
    if is_variable(obj):
        return obj
    if is_f64_array(obj):
        return Variable(obj)
    msg = f"as_variable: expected a Variable or a float64 ndarray, got {describe(obj)}; {f64_hint(obj)}"
    raise DezeroTypeError(msg)


def to_variable(where: str, obj: Variable | Arr, name: str) -> Variable:
    """:func:`as_variable` for the library's functions: an error names the function `where` and its
    argument `name`."""
    if is_variable(obj):
        return obj
    if is_f64_array(obj):
        # A constant, as Function.__call__ makes of a raw array: nobody holds this Variable, so no
        # gradient is computed for it (a layer fed a batch skips, e.g., conv2d's input gradient).
        constant = Variable(obj)
        constant.requires_grad = False
        return constant
    msg = f"{where}: {name} must be a Variable or a float64 ndarray, got {describe(obj)}; {f64_hint(obj)}"
    raise DezeroTypeError(msg)


def float_constant(where: str, c: float, name: str) -> float:
    """The Python number `c` (argument `name` of `where`) as a float, or a DezeroValueError naming
    both when it is an int too large for float64 (``float(10**400)`` raises a bare OverflowError)."""
    try:
        return float(c)
    except OverflowError:
        digits = len(str(abs(int(c))))
        msg = f"{where}: {name} is an int of {digits} digits, too large for float64"
        raise DezeroValueError(msg) from None


# The operators above delegate to the function library, which itself builds on this module; the
# import sits at the bottom to close that cycle after Variable exists.
from typed_dezero.core.anomaly import check_accumulation, check_backward  # noqa: E402
from typed_dezero.core.backprop import (  # noqa: E402
    array_grads_error,
    backward_step,
    zeros_for_output,
)
from typed_dezero.functions import arithmetic, linalg, reduction  # noqa: E402
from typed_dezero.functions import shape as shape_ops  # noqa: E402

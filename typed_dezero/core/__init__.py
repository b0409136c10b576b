"""The autograd core: Variable, Function and the backward walk."""

from typed_dezero.core.function import SKIPPED_GRAD as SKIPPED_GRAD
from typed_dezero.core.function import BinaryFunction as BinaryFunction
from typed_dezero.core.function import Function as Function
from typed_dezero.core.function import TernaryFunction as TernaryFunction
from typed_dezero.core.function import TwoOutputFunction as TwoOutputFunction
from typed_dezero.core.function import UnaryFunction as UnaryFunction
from typed_dezero.core.variable import Operand as Operand
from typed_dezero.core.variable import Parameter as Parameter
from typed_dezero.core.variable import Variable as Variable
from typed_dezero.core.variable import as_array as as_array
from typed_dezero.core.variable import as_variable as as_variable

__all__ = [
    "SKIPPED_GRAD",
    "BinaryFunction",
    "Function",
    "Operand",
    "Parameter",
    "TernaryFunction",
    "TwoOutputFunction",
    "UnaryFunction",
    "Variable",
    "as_array",
    "as_variable",
]

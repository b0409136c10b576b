"""DeZero's ``dezero.core_simple`` import path (book steps 23-32): the same objects as the full core."""

from typed_dezero.config import Config, no_grad, using_config
from typed_dezero.core import Function, Variable, as_array, as_variable

__all__ = ["Config", "Function", "Variable", "as_array", "as_variable", "no_grad", "using_config"]

"""typed_dezero: DeZero's define-by-run autograd and deep learning on NumPy, statically typed,
strict and checked at run time.

Set ``TYPED_DEZERO_TYPECHECK=0`` in the environment before import to turn runtime type checking off.
"""

import importlib
from typing import TYPE_CHECKING, Final

from typed_dezero import functions as functions
from typed_dezero import utils as utils
from typed_dezero._checking import RUNTIME_CHECKS as RUNTIME_CHECKS
from typed_dezero._typing import Arr as Arr
from typed_dezero._typing import IntArr as IntArr
from typed_dezero.config import Config as Config
from typed_dezero.config import detect_anomaly as detect_anomaly
from typed_dezero.config import no_grad as no_grad
from typed_dezero.config import test_mode as test_mode
from typed_dezero.config import using_config as using_config
from typed_dezero.core import BinaryFunction as BinaryFunction
from typed_dezero.core import Function as Function
from typed_dezero.core import Operand as Operand
from typed_dezero.core import Parameter as Parameter
from typed_dezero.core import TernaryFunction as TernaryFunction
from typed_dezero.core import TwoOutputFunction as TwoOutputFunction
from typed_dezero.core import UnaryFunction as UnaryFunction
from typed_dezero.core import Variable as Variable
from typed_dezero.core import as_array as as_array
from typed_dezero.core import as_variable as as_variable
from typed_dezero.errors import AnomalyError as AnomalyError
from typed_dezero.errors import DezeroError as DezeroError
from typed_dezero.errors import DezeroIndexError as DezeroIndexError
from typed_dezero.errors import DezeroTypeError as DezeroTypeError
from typed_dezero.errors import DezeroValueError as DezeroValueError
from typed_dezero.errors import GraphError as GraphError
from typed_dezero.errors import ShapeError as ShapeError
from typed_dezero.errors import WeightsFileError as WeightsFileError

if TYPE_CHECKING:
    from typed_dezero import core_simple as core_simple
    from typed_dezero import dataloaders as dataloaders
    from typed_dezero import datasets as datasets
    from typed_dezero import functions_conv as functions_conv
    from typed_dezero import layers as layers
    from typed_dezero import models as models
    from typed_dezero import optimizers as optimizers
    from typed_dezero import transforms as transforms
    from typed_dezero.dataloaders import DataLoader as DataLoader
    from typed_dezero.dataloaders import SeqDataLoader as SeqDataLoader
    from typed_dezero.datasets import Dataset as Dataset
    from typed_dezero.layers import Layer as Layer
    from typed_dezero.models import Model as Model

# The training stack (layers, models, optimizers, data) is imported on first access: a program
# that only differentiates functions does not pay for it in import time or memory.
_LAZY: Final[dict[str, tuple[str, str | None]]] = {
    "core_simple": ("typed_dezero.core_simple", None),
    "dataloaders": ("typed_dezero.dataloaders", None),
    "datasets": ("typed_dezero.datasets", None),
    "functions_conv": ("typed_dezero.functions_conv", None),
    "layers": ("typed_dezero.layers", None),
    "models": ("typed_dezero.models", None),
    "optimizers": ("typed_dezero.optimizers", None),
    "transforms": ("typed_dezero.transforms", None),
    "DataLoader": ("typed_dezero.dataloaders", "DataLoader"),
    "SeqDataLoader": ("typed_dezero.dataloaders", "SeqDataLoader"),
    "Dataset": ("typed_dezero.datasets", "Dataset"),
    "Layer": ("typed_dezero.layers", "Layer"),
    "Model": ("typed_dezero.models", "Model"),
}


def __getattr__(name: str) -> object:
    target = _LAZY.get(name)
    if target is None:
        msg = f"module 'typed_dezero' has no attribute {name!r}"
        raise AttributeError(msg)
    module = importlib.import_module(target[0])
    value: object = module if target[1] is None else getattr(module, target[1])
    globals()[name] = value  # later lookups find it directly
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

is_simple_core: Final = False
"""DeZero's switch between ``core_simple`` and ``core``; typed_dezero has one core (False)."""

__all__ = [
    "RUNTIME_CHECKS",
    "AnomalyError",
    "Arr",
    "BinaryFunction",
    "Config",
    "DataLoader",
    "Dataset",
    "DezeroError",
    "DezeroIndexError",
    "DezeroTypeError",
    "DezeroValueError",
    "Function",
    "GraphError",
    "IntArr",
    "Layer",
    "Model",
    "Operand",
    "Parameter",
    "SeqDataLoader",
    "ShapeError",
    "TernaryFunction",
    "TwoOutputFunction",
    "UnaryFunction",
    "Variable",
    "WeightsFileError",
    "__version__",
    "as_array",
    "as_variable",
    "core_simple",
    "dataloaders",
    "datasets",
    "detect_anomaly",
    "functions",
    "functions_conv",
    "is_simple_core",
    "layers",
    "models",
    "no_grad",
    "optimizers",
    "test_mode",
    "transforms",
    "using_config",
    "utils",
]

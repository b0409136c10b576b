"""DeZero's public names, module by module (from ../shared/DEZERO_API.md, DeZero at commit b5f3cf1):
each is present at the same place in typed_dezero, at a documented new place, or absent on purpose
with its reason listed in docs/dezero.md ("Absent on purpose").

The three lists are strict: a name that appears where the table says it is absent fails the test,
so the table and the documentation follow the code.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Final

import pytest

import typed_dezero
from typed_dezero.dataloaders import DataLoader, SeqDataLoader
from typed_dezero.datasets import Dataset
from typed_dezero.layers import LSTM, RNN, Layer
from typed_dezero.models import Model
from typed_dezero.optimizers import Optimizer

DOCS: Final = Path(__file__).resolve().parent.parent / "docs" / "dezero.md"

_FUNCTION_CLASSES: Final = (
    "Sin Cos Tanh Exp Log Reshape Transpose GetItem GetItemGrad Sum SumTo BroadcastTo MatMul Linear "
    "Sigmoid ReLU Softmax LogSoftmax LeakyReLU MeanSquaredError SoftmaxCrossEntropy BatchNorm Max Min Clip"
)
_CONV_CLASSES: Final = (
    "Conv2d Deconv2d Conv2DGradW Pooling Pooling2DGrad Pooling2DWithIndexes AveragePooling "
    "AveragePoolingGrad Im2col Col2im"
)
_ARITHMETIC: Final = "add mul neg sub rsub div rdiv pow"
_ARITHMETIC_CLASSES: Final = "Add Mul Neg Sub Div Pow"

DEZERO: Final[dict[str, str]] = {
    "dezero": (
        "Variable Parameter Function using_config no_grad test_mode as_array as_variable setup_variable "
        "Config Layer Model Dataset DataLoader SeqDataLoader datasets dataloaders optimizers functions "
        "functions_conv layers utils cuda transforms core core_simple is_simple_core __version__"
    ),
    "dezero.core": (
        "Config using_config no_grad test_mode Variable Parameter as_variable as_array Function "
        f"{_ARITHMETIC_CLASSES} {_ARITHMETIC} setup_variable array_types"
    ),
    "dezero.core_simple": (
        f"Config using_config no_grad Variable as_variable as_array Function {_ARITHMETIC_CLASSES} "
        f"{_ARITHMETIC} setup_variable"
    ),
    "dezero.functions": (
        f"{_FUNCTION_CLASSES} sin cos tanh exp log reshape transpose get_item expand_dims flatten sum "
        "sum_to broadcast_to average mean matmul linear linear_simple sigmoid_simple sigmoid relu "
        "softmax_simple softmax log_softmax leaky_relu mean_squared_error_simple mean_squared_error "
        "softmax_cross_entropy_simple softmax_cross_entropy sigmoid_cross_entropy binary_cross_entropy "
        "accuracy dropout batch_nrom embed_id max min clip conv2d deconv2d conv2d_simple im2col col2im "
        f"pooling_simple pooling average_pooling {_ARITHMETIC}"
    ),
    "dezero.functions_conv": (
        f"{_CONV_CLASSES} conv2d_simple conv2d deconv2d pooling_simple pooling average_pooling im2col "
        "col2im im2col_array col2im_array"
    ),
    "dezero.layers": "Layer Linear Conv2d Deconv2d RNN LSTM EmbedID BatchNorm",
    "dezero.models": (
        "Model Sequential MLP VGG16 ResNet ResNet152 ResNet101 ResNet50 BuildingBlock BottleneckA "
        "BottleneckB SqueezeNet"
    ),
    "dezero.optimizers": "Optimizer WeightDecay ClipGrad FreezeParam SGD MomentumSGD AdaGrad AdaDelta Adam",
    "dezero.datasets": (
        "Dataset get_spiral Spiral MNIST CIFAR10 CIFAR100 ImageNet SinCurve Shakespear load_cache_npz "
        "save_cache_npz"
    ),
    "dezero.dataloaders": "DataLoader SeqDataLoader",
    "dezero.transforms": (
        "Compose Convert Resize CenterCrop ToArray ToPIL RandomHorizontalFlip Normalize Flatten AsType "
        "ToFloat ToInt"
    ),
    "dezero.utils": (
        "get_dot_graph plot_dot_graph sum_to reshape_sum_backward logsumexp max_backward_shape "
        "gradient_check numerical_grad array_equal array_allclose show_progress cache_dir get_file "
        "get_deconv_outsize get_conv_outsize pair"
    ),
    "dezero.cuda": "gpu_enable get_array_module as_numpy as_cupy",
}
"""DeZero's public names by module (imported modules such as ``np`` left out)."""

RELOCATED: Final[dict[tuple[str, str], str]] = {
    **{
        ("dezero.core", n): f"typed_dezero.config.{n}"
        for n in ("Config", "using_config", "no_grad", "test_mode")
    },
    **{
        (m, n): f"typed_dezero.functions.{n}"
        for m in ("dezero.core", "dezero.core_simple")
        for n in _ARITHMETIC.split()
    },
}
"""Names found at another path: the configuration in ``typed_dezero.config`` (and the top level), the
arithmetic functions in ``typed_dezero.functions``."""

ABSENT: Final[dict[tuple[str, str], str]] = {
    ("dezero", "setup_variable"): "operators are declared in Variable's class body",
    ("dezero", "cuda"): "no CuPy/GPU backend",
    ("dezero.core", "setup_variable"): "operators are declared in Variable's class body",
    ("dezero.core", "array_types"): "no CuPy/GPU backend",
    ("dezero.core_simple", "setup_variable"): "operators are declared in Variable's class body",
    **{
        (m, n): "Function classes are internal: the lowercase function checks the arguments"
        for m, names in (
            ("dezero.core", _ARITHMETIC_CLASSES),
            ("dezero.core_simple", _ARITHMETIC_CLASSES),
            ("dezero.functions", _FUNCTION_CLASSES),
            ("dezero.functions_conv", _CONV_CLASSES),
        )
        for n in names.split()
    },
    ("dezero.functions_conv", "im2col_array"): "NumPy/CuPy kernels: F.im2col(x, ...).data",
    ("dezero.functions_conv", "col2im_array"): "NumPy/CuPy kernels: F.col2im(x, ...).data",
    ("dezero.models", "SqueezeNet"): "an empty stub in DeZero",
    **{
        ("dezero.datasets", n): "web downloads of large datasets are not provided"
        for n in ("CIFAR10", "CIFAR100", "ImageNet", "Shakespear", "load_cache_npz", "save_cache_npz")
    },
    **{
        ("dezero.transforms", n): "PIL image transforms (no Pillow dependency)"
        for n in ("Convert", "Resize", "CenterCrop", "ToArray", "ToPIL", "RandomHorizontalFlip")
    },
    **{("dezero.cuda", n): "no CuPy/GPU backend" for n in DEZERO["dezero.cuda"].split()},
}
"""DeZero names typed_dezero does not have, each with its reason (also in docs/dezero.md)."""

MEMBERS: Final[dict[type, tuple[str, str]]] = {
    typed_dezero.Variable: (
        "data name grad creator generation shape ndim size dtype __len__ __repr__ set_creator unchain "
        "cleargrad backward unchain_backward reshape transpose T sum __add__ __radd__ __mul__ __rmul__ "
        "__neg__ __sub__ __rsub__ __truediv__ __rtruediv__ __pow__ __getitem__ matmul dot max min",
        "to_cpu to_gpu",
    ),
    Layer: ("params cleargrads save_weights load_weights forward __call__ __setattr__", "to_cpu to_gpu"),
    Model: ("plot", ""),
    Optimizer: ("setup update update_one add_hook", ""),
    Dataset: ("__getitem__ __len__ prepare", ""),
    DataLoader: ("__iter__", "__next__ next reset to_cpu to_gpu"),
    SeqDataLoader: ("__iter__", "__next__ next reset to_cpu to_gpu"),
    RNN: ("reset_state", ""),
    LSTM: ("reset_state", ""),
}
"""DeZero's methods and attributes of its main classes: (present, absent on purpose)."""

MEMBER_REASONS: Final[dict[str, str]] = {
    "to_cpu": "no CuPy/GPU backend",
    "to_gpu": "no CuPy/GPU backend",
    "__next__": "each iter(loader) is a fresh epoch; a loader is not its own iterator",
    "next": "each iter(loader) is a fresh epoch; a loader is not its own iterator",
    "reset": "each iter(loader) is a fresh epoch; a loader is not its own iterator",
}


def _typed_module(dezero_module: str) -> str:
    return "typed_dezero" + dezero_module.removeprefix("dezero")


def _resolve(path: str) -> object:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_the_lists_classify_every_dezero_name_once() -> None:
    for (module, name), target in RELOCATED.items():
        assert name in DEZERO[module].split(), f"{module}.{name} is not a DeZero name ({target})"
    for module, name in ABSENT:
        assert name in DEZERO[module].split(), f"{module}.{name} is not a DeZero name"
    assert not set(RELOCATED) & set(ABSENT)
    for module, names in DEZERO.items():
        assert len(names.split()) == len(set(names.split())), f"a name of {module} is listed twice"


@pytest.mark.parametrize("module", [m for m in DEZERO if m != "dezero.cuda"])
def test_dezero_names_are_present(module: str) -> None:
    typed = importlib.import_module(_typed_module(module))
    expected = [
        n for n in DEZERO[module].split() if (module, n) not in RELOCATED and (module, n) not in ABSENT
    ]
    missing = [n for n in expected if not hasattr(typed, n)]
    assert missing == [], f"{typed.__name__} lacks DeZero's {missing}"


@pytest.mark.parametrize(("where", "target"), list(RELOCATED.items()), ids=lambda v: str(v))
def test_relocated_names_are_at_their_new_place(where: tuple[str, str], target: str) -> None:
    module, name = where
    assert _resolve(target) is not None  # raises AttributeError when missing
    typed = importlib.import_module(_typed_module(module))
    assert not hasattr(typed, name), f"{typed.__name__}.{name} exists now: move it to the present names"


@pytest.mark.parametrize(("where", "reason"), list(ABSENT.items()), ids=lambda v: str(v))
def test_absent_names_are_absent(where: tuple[str, str], reason: str) -> None:
    module, name = where
    try:
        typed = importlib.import_module(_typed_module(module))
    except ModuleNotFoundError:
        assert module == "dezero.cuda", f"{module} has no typed_dezero counterpart"
        return
    assert not hasattr(typed, name), f"{typed.__name__}.{name} exists now ({reason}): update the lists"


def test_there_is_no_cuda_module() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("typed_dezero.cuda")
    assert not hasattr(typed_dezero, "cuda")


@pytest.mark.parametrize("cls", list(MEMBERS), ids=lambda c: c.__name__)
def test_dezero_members_of_the_main_classes(cls: type) -> None:
    present, absent = MEMBERS[cls]
    assert [n for n in present.split() if not hasattr(cls, n)] == []
    assert [n for n in absent.split() if hasattr(cls, n)] == []
    assert all(n in MEMBER_REASONS for n in absent.split())


def _absent_section() -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"^## Absent on purpose\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, "docs/dezero.md has no 'Absent on purpose' section"
    return match.group(1)


def test_every_absent_name_is_documented() -> None:
    section = _absent_section()
    quoted = set(re.findall(r"`([^`]+)`", section))
    names = {name for _, name in ABSENT} | {n for _, absent in MEMBERS.values() for n in absent.split()}
    undocumented = sorted(n for n in names if n not in quoted and f"dezero.{n}" not in quoted)
    assert undocumented == [], f"docs/dezero.md's 'Absent on purpose' does not name {undocumented}"

"""A safetensors weights file of a typed_dezero model loads into the equivalent ``torch.nn`` model
(through ``safetensors.torch``), and a torch model's weights load into the typed_dezero model, with
the same outputs (float64, to 1e-12).

The key mapping, from typed_dezero's names (``"<layer attribute>/<parameter>"``, the keys of
``Layer.state_dict()``) to torch's (``"<module index or attribute>.<parameter>"``):

==================  ========================  =============================================
typed_dezero        torch.nn                  array
==================  ========================  =============================================
Linear ``W``        Linear ``weight``         transposed: typed_dezero (in, out), torch (out, in)
Linear ``b``        Linear ``bias``           as is, (out,)
Conv2d ``W``        Conv2d ``weight``         as is, (out_channels, in_channels, kh, kw)
Conv2d ``b``        Conv2d ``bias``           as is, (out_channels,)
BatchNorm ``gamma`` BatchNorm2d ``weight``    as is, (C,)
BatchNorm ``beta``  BatchNorm2d ``bias``      as is, (C,)
BatchNorm ``avg_mean``  ``running_mean``      as is, (C,) (a state array, not a parameter)
BatchNorm ``avg_var``   ``running_var``       as is, (C,); torch's ``num_batches_tracked`` has no
                                              counterpart: torch sets it to 0 when it is missing
==================  ========================  =============================================

torch's BatchNorm2d must be given typed_dezero's ``eps`` (2e-5 by default, torch's is 1e-5); the
outputs are compared in inference mode (typed_dezero's ``test_mode()``, torch's ``eval()``).

torch is imported with ``importlib`` and described by the small Protocols below, as in
tests/oracle/_torch.py: mypy and pyright never analyse it.
"""

from __future__ import annotations

import importlib
import os
import pathlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Final, Protocol, cast

import numpy as np
import numpy.typing as npt

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Layer, Variable, test_mode
from typed_dezero.models import MLP

TOLERANCE: Final = 1e-12


class DType(Protocol):
    """A torch dtype (opaque here)."""


class Tensor(Protocol):
    @property
    def T(self) -> Tensor: ...
    @property
    def shape(self) -> tuple[int, ...]: ...
    def contiguous(self) -> Tensor: ...
    def numpy(self) -> npt.NDArray[Any]: ...


class Keys(Protocol):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module(Protocol):
    def __call__(self, x: Tensor, /) -> Tensor: ...
    def eval(self) -> Module: ...
    def state_dict(self) -> dict[str, Tensor]: ...
    def load_state_dict(self, state: Mapping[str, Tensor], strict: bool = True) -> Keys: ...


class NN(Protocol):
    def Linear(self, in_features: int, out_features: int, *, dtype: DType) -> Module: ...
    def Conv2d(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        padding: int,
        *,
        dtype: DType,
    ) -> Module: ...
    def BatchNorm2d(self, num_features: int, *, eps: float, dtype: DType) -> Module: ...
    def Sigmoid(self) -> Module: ...
    def ReLU(self) -> Module: ...
    def Flatten(self) -> Module: ...
    def Sequential(self, *modules: Module) -> Module: ...


class Torch(Protocol):
    @property
    def float64(self) -> DType: ...
    @property
    def nn(self) -> NN: ...
    def from_numpy(self, array: npt.NDArray[Any], /) -> Tensor: ...
    def no_grad(self) -> AbstractContextManager[None]: ...


class SafetensorsTorch(Protocol):
    def load_file(self, filename: str | os.PathLike[str]) -> dict[str, Tensor]: ...
    def save_file(self, tensors: Mapping[str, Tensor], filename: str | os.PathLike[str]) -> None: ...


torch = cast(Torch, importlib.import_module("torch"))
st_torch = cast(SafetensorsTorch, importlib.import_module("safetensors.torch"))


def to_torch(state: Mapping[str, Tensor], mapping: Mapping[str, tuple[str, bool]]) -> dict[str, Tensor]:
    """Rename typed_dezero's tensors to torch's (`mapping`: name -> (torch name, transposed))."""
    assert sorted(state) == sorted(mapping)
    return {name: state[key].T.contiguous() if t else state[key] for key, (name, t) in mapping.items()}


def to_dezero(state: Mapping[str, Tensor], mapping: Mapping[str, tuple[str, bool]]) -> dict[str, Tensor]:
    """The inverse of :func:`to_torch`: torch's tensors under typed_dezero's names."""
    return {key: state[name].T.contiguous() if t else state[name] for key, (name, t) in mapping.items()}


def run(model: Module, x: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


MLP_KEYS: Final = {
    "l0/W": ("0.weight", True),
    "l0/b": ("0.bias", False),
    "l1/W": ("2.weight", True),
    "l1/b": ("2.bias", False),
}


def test_an_mlp_file_loads_into_torch_linear_layers_with_the_same_outputs(tmp_path: pathlib.Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5))
    model = MLP((7, 3), rng=rng)  # Linear -> sigmoid -> Linear
    expected = model(x).data
    path = tmp_path / "mlp.safetensors"
    model.save_weights(path)
    net = torch.nn.Sequential(
        torch.nn.Linear(5, 7, dtype=torch.float64),
        torch.nn.Sigmoid(),
        torch.nn.Linear(7, 3, dtype=torch.float64),
    )
    keys = net.load_state_dict(to_torch(st_torch.load_file(path), MLP_KEYS), strict=True)
    assert (keys.missing_keys, keys.unexpected_keys) == ([], [])
    assert net.state_dict()["0.weight"].shape == (7, 5)  # torch's Linear weight is (out, in)
    np.testing.assert_allclose(run(net, x), expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_torch_weights_saved_with_safetensors_torch_load_into_the_mlp(tmp_path: pathlib.Path) -> None:
    x = np.random.default_rng(1).standard_normal((4, 5))
    net = torch.nn.Sequential(
        torch.nn.Linear(5, 7, dtype=torch.float64),
        torch.nn.Sigmoid(),
        torch.nn.Linear(7, 3, dtype=torch.float64),
    )
    path = tmp_path / "torch.safetensors"
    st_torch.save_file(to_dezero(net.state_dict(), MLP_KEYS), path)
    model = MLP((7, 3))  # lazy: the input size comes from the file
    model.load_weights(path)
    np.testing.assert_allclose(model(x).data, run(net, x), rtol=TOLERANCE, atol=TOLERANCE)


class ConvNet(Layer[[Variable], Variable]):
    """Conv2d -> BatchNorm -> ReLU -> flatten -> Linear."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(2)
        self.conv = L.Conv2d(4, kernel_size=3, stride=1, pad=1, in_channels=2, rng=rng)
        self.bn = L.BatchNorm(channels=4)
        self.fc = L.Linear(3, in_size=4 * 5 * 5, rng=rng)

    def forward(self, x: Variable) -> Variable:
        h = F.relu(self.bn(self.conv(x)))
        return self.fc(F.reshape(h, (h.shape[0], -1)))


CONV_KEYS: Final = {
    "conv/W": ("0.weight", False),
    "conv/b": ("0.bias", False),
    "bn/gamma": ("1.weight", False),
    "bn/beta": ("1.bias", False),
    "bn/avg_mean": ("1.running_mean", False),
    "bn/avg_var": ("1.running_var", False),
    "fc/W": ("4.weight", True),
    "fc/b": ("4.bias", False),
}


def test_a_conv_net_with_batch_norm_loads_into_torch_with_the_same_outputs(tmp_path: pathlib.Path) -> None:
    rng = np.random.default_rng(3)
    model = ConvNet()
    model.bn.gamma.data = rng.uniform(0.5, 1.5, 4)
    model.bn.beta.data = rng.standard_normal(4)
    model.bn.set_state("avg_mean", rng.standard_normal(4))
    model.bn.set_state("avg_var", rng.uniform(0.5, 2.0, 4))
    x = rng.standard_normal((2, 2, 5, 5))
    with test_mode():
        expected = model(Variable(x)).data
    path = tmp_path / "conv.safetensors"
    model.save_weights(path)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, 1, 1, dtype=torch.float64),
        torch.nn.BatchNorm2d(4, eps=model.bn.eps, dtype=torch.float64),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 5 * 5, 3, dtype=torch.float64),
    )
    # torch fills in the missing num_batches_tracked (0) itself, even with strict=True
    keys = net.load_state_dict(to_torch(st_torch.load_file(path), CONV_KEYS), strict=True)
    assert (keys.missing_keys, keys.unexpected_keys) == ([], [])
    net.eval()
    np.testing.assert_allclose(run(net, x), expected, rtol=TOLERANCE, atol=TOLERANCE)

"""Models: Sequential, MLP, Model.plot, VGG16 and ResNet (with its bottleneck blocks)."""

from __future__ import annotations

import inspect
import itertools
import socket
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Arr, DezeroTypeError, DezeroValueError, Variable, test_mode
from typed_dezero.layers import Layer
from typed_dezero.models import (
    MLP,
    VGG16,
    BottleneckA,
    BottleneckB,
    BuildingBlock,
    Model,
    ResNet,
    ResNet50,
    ResNet101,
    ResNet152,
    Sequential,
)
from typed_dezero.utils import gradient_check, pair

from .layers.helpers import numpy_conv

# -- Sequential and MLP ------------------------------------------------------------------------------


def _sigmoid(a: Arr) -> Arr:
    return 1.0 / (1.0 + np.exp(-a))


def test_sequential_applies_layers_in_order_and_registers_them() -> None:
    rng = np.random.default_rng(0)
    first, second = L.Linear(4, in_size=3, rng=rng), L.Linear(2, in_size=4, rng=rng)
    seq = Sequential(first, second)
    x = rng.standard_normal((5, 3))
    assert second.b is not None
    assert first.b is not None
    np.testing.assert_allclose(
        seq(x).data, (x @ first.W.data + first.b.data) @ second.W.data + second.b.data, rtol=1e-12
    )
    assert [k for k, _ in seq.named_params()] == ["l0/W", "l0/b", "l1/W", "l1/b"]
    assert seq.layers == [first, second]
    nested = Sequential(seq, L.Linear(1, rng=rng))
    assert [k for k, _ in nested.named_params()][:2] == ["l0/l0/W", "l0/l0/b"]
    assert nested(x).shape == (5, 1)


def test_sequential_errors() -> None:
    with pytest.raises(DezeroValueError, match="Sequential: needs at least one layer"):
        Sequential()
    with pytest.raises(DezeroTypeError, match=r"Sequential: argument 1 must be a Layer, got function"):
        Sequential(L.Linear(2), F.relu)  # type: ignore[arg-type]


def test_mlp_structure_and_values() -> None:
    rng = np.random.default_rng(1)
    mlp = MLP((4, 3, 2), rng=rng)
    assert mlp.uninitialized() == ["l0/W", "l1/W", "l2/W"]
    x = rng.standard_normal((6, 5))
    y = mlp(x)
    assert y.shape == (6, 2)
    assert [k for k, _ in mlp.named_params()] == ["l0/W", "l0/b", "l1/W", "l1/b", "l2/W", "l2/b"]
    assert [layer.W.shape for layer in mlp.layers] == [(5, 4), (4, 3), (3, 2)]
    h = x
    for layer in mlp.layers[:-1]:
        assert layer.b is not None
        h = _sigmoid(h @ layer.W.data + layer.b.data)
    last = mlp.layers[-1]
    assert last.b is not None
    np.testing.assert_allclose(y.data, h @ last.W.data + last.b.data, rtol=1e-12)
    relu_mlp = MLP([3], activation=F.relu)
    assert relu_mlp(x).shape == (6, 3)  # one layer: no activation at all


def _spiral(rng: np.random.Generator, per_class: int = 30, classes: int = 3) -> tuple[Arr, Arr]:
    xs: list[Arr] = []
    ts: list[Arr] = []
    for c in range(classes):
        r = np.linspace(0.0, 1.0, per_class)
        theta = c * 4.0 + 4.0 * r + rng.normal(0.0, 0.2, per_class)
        xs.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ts.append(np.full(per_class, float(c)))
    return np.concatenate(xs), np.concatenate(ts)


def test_mlp_learns_a_spiral_batch_with_hand_written_sgd() -> None:
    rng = np.random.default_rng(2)
    x, t = _spiral(rng)
    labels = t.astype(np.int64)
    model = MLP((10, 3), rng=rng)
    losses: list[float] = []
    for _ in range(60):
        loss = F.softmax_cross_entropy(model(x), labels)
        model.cleargrads()
        loss.backward()
        for p in model.params():
            assert p.grad is not None
            p.data = p.data - 1.0 * p.grad.data
        losses.append(float(loss.data))
    assert losses[-1] < 0.85 * losses[0]
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(losses[:11]))  # steady at first


def test_mlp_errors() -> None:
    with pytest.raises(DezeroValueError, match="MLP: fc_output_sizes must name at least one layer size"):
        MLP(())
    with pytest.raises(DezeroValueError, match="Linear: out_size must be a positive int, got 0"):
        MLP((3, 0))


# -- Model.plot --------------------------------------------------------------------------------------

FAKE_DOT = """#!{python}
import sys
args = sys.argv[1:]
out = args[args.index("-o") + 1]
with open(out, "w") as f:
    f.write(args[0] + "\\n" + sys.stdin.read())
"""


def _install_fake_dot(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dot"
    script.write_text(FAKE_DOT.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_plot_draws_the_forward_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_dot(tmp_path, monkeypatch)
    model = MLP((3, 2), rng=np.random.default_rng(3))
    target = tmp_path / "mlp.svg"
    model.plot(np.ones((1, 4)), to_file=target)
    text = target.read_text()
    assert text.startswith("-Tsvg\ndigraph g {")
    assert text.count('label="Linear"') == 2
    assert text.count('label="Sigmoid"') == 1
    assert "W: (4, 3) float64" in text  # verbose labels show names and shapes
    monkeypatch.chdir(tmp_path)
    model.plot(Variable(np.ones((2, 4))))
    assert (tmp_path / "model.png").read_text().startswith("-Tpng\n")


class TwoOutputs(Model[[Variable], tuple[Variable, Variable]]):
    @override
    def forward(self, x: Variable) -> tuple[Variable, Variable]:
        return x, x


def test_plot_needs_a_variable_result(tmp_path: Path) -> None:
    with pytest.raises(
        DezeroValueError, match=r"TwoOutputs\.plot: forward must return a Variable to draw, got tuple"
    ):
        TwoOutputs().plot(Variable(np.ones(1)), to_file=tmp_path / "g.png")
    assert list(tmp_path.iterdir()) == []


# -- VGG16 -------------------------------------------------------------------------------------------


def test_vgg16_layers() -> None:
    model = VGG16()
    convs = [(k, v) for k, v in vars(model).items() if isinstance(v, L.Conv2d)]
    expected_channels = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert [k for k, _ in convs] == [
        "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
        "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3",
    ]  # fmt: skip
    assert [c.out_channels for _, c in convs] == expected_channels
    assert all(c.kernel_size == (3, 3) and c.stride == 1 and c.pad == 1 for _, c in convs)
    assert [model.fc6.out_size, model.fc7.out_size, model.fc8.out_size] == [4096, 4096, 1000]
    assert len(model.uninitialized()) == 16  # everything is created at the first call
    # At 224 x 224, fc6 sees 512 x 7 x 7 inputs: the published 138,357,544 parameters.
    convs_total = sum(
        o * i * 9 + o for o, i in zip(expected_channels, [3, *expected_channels[:-1]], strict=True)
    )
    assert convs_total + (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000) == 138_357_544


def test_vgg16_forward_on_a_small_image() -> None:
    model = VGG16(rng=np.random.default_rng(4))
    x = np.random.default_rng(5).standard_normal((1, 3, 32, 32))
    with test_mode():
        y = model(x)
        assert y.shape == (1, 1000)
        assert model.fc6.W.shape == (512, 4096)  # 32 x 32 images leave 1 x 1 x 512 features
        assert model.uninitialized() == []
        assert sum(p.size for p in model.params()) == 37_694_248
    assert np.all(np.isfinite(y.data))
    assert not np.array_equal(model(x).data, y.data)  # dropout is active in training


# -- ResNet building blocks against NumPy -------------------------------------------------------------


def _relu(a: Arr) -> Arr:
    return np.maximum(a, 0.0)


def _randomise_bn(layer: Layer[..., Variable], rng: np.random.Generator) -> None:
    for bn in (v for v in vars(layer).values() if isinstance(v, L.BatchNorm)):
        c = bn.gamma.shape[0]
        bn.gamma.data = rng.uniform(0.5, 1.5, c)
        bn.beta.data = rng.uniform(-0.5, 0.5, c)
        bn.set_state("avg_mean", rng.uniform(-0.5, 0.5, c))
        bn.set_state("avg_var", rng.uniform(0.5, 2.0, c))


def _bn_test(bn: L.BatchNorm, x: Arr) -> Arr:
    s = (1, -1, 1, 1)
    mean, var = bn.state("avg_mean").reshape(s), bn.state("avg_var").reshape(s)
    return bn.gamma.data.reshape(s) * (x - mean) / np.sqrt(var + bn.eps) + bn.beta.data.reshape(s)


def _conv(conv: L.Conv2d, x: Arr) -> Arr:
    return numpy_conv(x, conv.W.data, None, pair(conv.stride), pair(conv.pad))


def test_bottleneck_b_matches_numpy() -> None:
    rng = np.random.default_rng(6)
    block = BottleneckB(4, 2, rng=rng)
    _randomise_bn(block, rng)
    x = rng.standard_normal((2, 4, 3, 3))
    h = _relu(_bn_test(block.bn1, _conv(block.conv1, x)))
    h = _relu(_bn_test(block.bn2, _conv(block.conv2, h)))
    expected = _relu(_bn_test(block.bn3, _conv(block.conv3, h)) + x)
    with test_mode():
        np.testing.assert_allclose(block(x).data, expected, rtol=1e-10, atol=1e-12)
        assert gradient_check(lambda v: block(v), x[:1, :, :2, :2])
    assert all(c.b is None for c in (block.conv1, block.conv2, block.conv3))


@pytest.mark.parametrize("downsample_fb", [False, True])
def test_bottleneck_a_matches_numpy(downsample_fb: bool) -> None:
    rng = np.random.default_rng(7)
    block = BottleneckA(3, 2, 5, stride=2, downsample_fb=downsample_fb, rng=rng)
    _randomise_bn(block, rng)
    assert (block.conv1.stride, block.conv2.stride) == ((1, 2) if downsample_fb else (2, 1))
    x = rng.standard_normal((2, 3, 5, 5))
    h = _relu(_bn_test(block.bn1, _conv(block.conv1, x)))
    h = _relu(_bn_test(block.bn2, _conv(block.conv2, h)))
    h = _bn_test(block.bn3, _conv(block.conv3, h))
    expected = _relu(h + _bn_test(block.bn4, _conv(block.conv4, x)))
    with test_mode():
        y = block(x)
    assert y.shape == (2, 5, 3, 3)
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)


def test_building_block_structure_and_weights_round_trip(tmp_path: Path) -> None:
    block = BuildingBlock(3, 4, 2, 8, 2, rng=np.random.default_rng(8))
    assert isinstance(block.a, BottleneckA)
    assert [type(b) for b in block.bs] == [BottleneckB, BottleneckB]
    keys = list(block.state_dict())
    assert keys[:3] == ["a/conv1/W", "a/bn1/gamma", "a/bn1/beta"]
    assert "b2/bn3/avg_var" in keys
    x = np.random.default_rng(9).standard_normal((2, 4, 4, 4))
    block(x)  # training: moves the running statistics away from their initial values
    block.save_weights(tmp_path / "block.npz")
    fresh = BuildingBlock(3, 4, 2, 8, 2, rng=np.random.default_rng(10))
    fresh.load_weights(tmp_path / "block.npz")
    for key, value in block.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value, err_msg=key)
    with test_mode():
        np.testing.assert_array_equal(fresh(x).data, block(x).data)


# -- ResNet ------------------------------------------------------------------------------------------

# torchvision's published counts (no bias on conv1) plus the 64 biases of DeZero's conv1.
RESNET_PARAMS = {50: 25_557_032 + 64, 101: 44_549_160 + 64, 152: 60_192_808 + 64}


def test_resnet50_structure_and_forward() -> None:
    model = ResNet50(rng=np.random.default_rng(11))
    assert isinstance(model, ResNet)
    assert model.n_layers == 50
    assert model.uninitialized() == []  # built eagerly: savable before any call
    assert sum(p.size for p in model.params()) == RESNET_PARAMS[50]
    assert all(p.dtype == np.float64 for p in model.params())
    stages = [model.res2, model.res3, model.res4, model.res5]
    assert [1 + len(s.bs) for s in stages] == [3, 4, 6, 3]
    assert [s.a.conv3.out_channels for s in stages] == [256, 512, 1024, 2048]
    assert [s.a.conv1.stride for s in stages] == [1, 2, 2, 2]
    assert model.res3.a.conv1.W.shape == (128, 256, 1, 1)
    assert model.fc6.W.shape == (2048, 1000)

    x = np.random.default_rng(12).standard_normal((2, 3, 32, 32))
    mean_before = model.res5.a.bn4.state("avg_mean").copy()
    y = model(x)
    assert y.shape == (2, 1000)
    assert np.all(np.isfinite(y.data))
    assert not np.array_equal(model.res5.a.bn4.state("avg_mean"), mean_before)
    with test_mode():
        both = model(x).data
        first = model(x[:1]).data
    np.testing.assert_allclose(first, both[:1], rtol=1e-10, atol=1e-12)  # no batch coupling in test mode


@pytest.mark.parametrize(
    ("cls", "n_layers", "stages"), [(ResNet101, 101, (3, 4, 23, 3)), (ResNet152, 152, (3, 8, 36, 3))]
)
def test_deeper_resnets(cls: type[ResNet101 | ResNet152], n_layers: int, stages: tuple[int, ...]) -> None:
    model = cls(rng=np.random.default_rng(13))
    assert model.n_layers == n_layers
    assert tuple(1 + len(s.bs) for s in (model.res2, model.res3, model.res4, model.res5)) == stages
    assert sum(p.size for p in model.params()) == RESNET_PARAMS[n_layers]


def test_resnet_default_is_152_layers_and_other_depths_are_rejected() -> None:
    with pytest.raises(DezeroValueError, match="ResNet: n_layers must be 50, 101 or 152, got 18"):
        ResNet(18)
    assert inspect.signature(ResNet).parameters["n_layers"].default == 152


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: VGG16(pretrained=True), "VGG16"),
        (lambda: ResNet(50, pretrained=True), "ResNet50"),
        (lambda: ResNet50(pretrained=True), "ResNet50"),
        (lambda: ResNet101(True), "ResNet101"),
        (lambda: ResNet152(pretrained=True), "ResNet152"),
    ],
)
def test_pretrained_never_downloads(
    make: Callable[[], object], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(
        DezeroValueError,
        match=rf"{name}: pretrained=True would download weights.*model\.load_weights\(path\)",
    ):
        make()

"""Models: a Model is a Layer that can also draw its graph; Sequential and MLP compose layers;
VGG16 and ResNet (50/101/152) are the book's ImageNet classifiers.

No model ever downloads weights: build it with ``pretrained=False`` and load a local weights file
with ``model.load_weights(path)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeGuard, final

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, describe
from typed_dezero.core.variable import Variable
from typed_dezero.errors import DezeroTypeError, DezeroValueError
from typed_dezero.layers._init import DTypeArg, check_dtype, check_positive
from typed_dezero.layers.conv import Conv2d
from typed_dezero.layers.layer import Layer, P, R
from typed_dezero.layers.linear import Linear
from typed_dezero.layers.normalization import BatchNorm
from typed_dezero.utils.dot import plot_dot_graph

__all__ = [
    "MLP",
    "VGG16",
    "BottleneckA",
    "BottleneckB",
    "BuildingBlock",
    "Model",
    "ResNet",
    "ResNet50",
    "ResNet101",
    "ResNet152",
    "Sequential",
]


class Model(Layer[P, R]):
    """A Layer meant as a whole network: ``Model[[Variable], Variable]`` for one input and output.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> import typed_dezero.layers as L
        >>> from typed_dezero import Model, Variable
        >>> class Regressor(Model[[Variable], Variable]):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.hidden = L.Linear(16)
        ...         self.out = L.Linear(1)
        ...
        ...     def forward(self, x: Variable) -> Variable:
        ...         return self.out(F.tanh(self.hidden(x)))
        >>> model = Regressor()
        >>> model(Variable(np.zeros((5, 2)))).shape
        (5, 1)
        >>> len(list(model.params()))
        4
    """

    def plot(self, *inputs: Variable | Arr, to_file: str | os.PathLike[str] = "model.png") -> None:
        """Run the model on `inputs` and draw the graph of the result with Graphviz (see
        :func:`typed_dezero.utils.plot_dot_graph`, which explains how to install it if missing)."""
        y = _call(self.forward, inputs)
        if not isinstance(y, Variable):
            msg = (
                f"{type(self).__name__}.plot: forward must return a Variable to draw, got {type(y).__name__}"
            )
            raise DezeroValueError(msg)
        plot_dot_graph(y, verbose=True, to_file=to_file)


def _call(forward: Callable[..., object], inputs: tuple[Variable | Arr, ...]) -> object:
    # forward's parameters are the model's ParamSpec, unknown here: call it through a plain Callable.
    return forward(*inputs)


def _is_layer(x: object) -> TypeGuard[Layer[Any, Any]]:
    return isinstance(x, Layer)


@final
class Sequential(Model[[Variable | Arr], Variable]):
    """Layers applied one after the other; they are registered as ``l0``, ``l1``, ...

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> from typed_dezero.models import Sequential
        >>> model = Sequential(L.Linear(4), L.BatchNorm(), L.Linear(1))
        >>> model(np.ones((3, 2))).shape
        (3, 1)
        >>> [name for name, _ in model.named_params()]
        ['l0/W', 'l0/b', 'l1/gamma', 'l1/beta', 'l2/W', 'l2/b']
    """

    def __init__(self, *layers: Layer[..., Variable]) -> None:
        super().__init__()
        if not layers:
            msg = "Sequential: needs at least one layer"
            raise DezeroValueError(msg)
        self.layers: list[Layer[..., Variable]] = []
        for i, layer in enumerate(layers):
            if not _is_layer(layer):
                msg = f"Sequential: argument {i} must be a Layer, got {describe(layer)}"
                raise DezeroTypeError(msg)
            setattr(self, f"l{i}", layer)
            self.layers.append(layer)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        y: Any = x
        for layer in self.layers:
            y = layer(y)
        out: Variable = y
        return out


@final
class MLP(Model[[Variable | Arr], Variable]):
    """A multi-layer perceptron: Linear layers of the given output sizes (input sizes taken from the
    first call), with `activation` between them and none after the last. `dtype`, as in
    ``Linear``, may only be float64 (or None); another dtype is a DezeroTypeError.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero.models import MLP
        >>> model = MLP((10, 3), activation=F.relu, rng=np.random.default_rng(0))
        >>> scores = model(np.ones((4, 2)))  # 2 -> 10 -> 3
        >>> scores.shape, [p.shape for p in model.params()]
        ((4, 3), [(2, 10), (10,), (10, 3), (3,)])
    """

    @typechecked
    def __init__(
        self,
        fc_output_sizes: Sequence[int],
        activation: Callable[[Variable], Variable] = F.sigmoid,
        *,
        dtype: DTypeArg = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_dtype("MLP", dtype)
        if not fc_output_sizes:
            msg = "MLP: fc_output_sizes must name at least one layer size"
            raise DezeroValueError(msg)
        self.activation = activation
        self.layers: list[Linear] = []
        for i, size in enumerate(fc_output_sizes):
            layer = Linear(size, rng=rng)
            setattr(self, f"l{i}", layer)
            self.layers.append(layer)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)


def _refuse_download(model: str, pretrained: bool, example_key: str) -> None:
    if pretrained:
        msg = (
            f"{model}: pretrained=True would download weights, and typed_dezero never downloads "
            f"anything. Build the model with pretrained=False, then load a local weights file: "
            f"model.load_weights(path) (an .npz archive as save_weights writes, with keys such as "
            f"{example_key!r}; it is read without pickle)"
        )
        raise DezeroValueError(msg)


# -- VGG16 ---------------------------------------------------------------------------------------


_VGG16_BLOCKS: Final = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
"""(channels, convolutions) of VGG16's five blocks."""


@final
class VGG16(Model[[Variable | Arr], Variable]):
    """VGG-16 (Simonyan and Zisserman, 2014): 13 3x3 convolutions (pad 1) with ReLU in five blocks of
    64, 128, 256, 512 and 512 channels, each block followed by 2x2 max pooling (stride 2); then the
    fully connected fc6 (4096), fc7 (4096) and fc8 (1000), with ReLU and dropout (ratio 0.5, training
    mode only) after fc6 and fc7.

    Arguments:
        pretrained: must be False; weights are never downloaded (True raises DezeroValueError).
            Load a local file with ``model.load_weights(path)`` instead.
        rng: the Generator for the initial weights and the dropout masks.

    Input (N, C, H, W) images with H and W multiples of 32 (224 x 224 for ImageNet); output (N, 1000)
    class scores (logits). Every weight is created at the first call (fc6's input size,
    512 * H/32 * W/32, is known only then), so construction is cheap; at 224 x 224 the weights take
    138 million float64 values (1.1 GB). ``load_weights`` on a fresh model creates them from the file.

    Examples:
        >>> from typed_dezero.models import VGG16
        >>> len(VGG16().uninitialized())  # 13 convolutions and 3 fully connected layers, all lazy
        16
        >>> VGG16(pretrained=True)
        Traceback (most recent call last):
        ...
        typed_dezero.errors.DezeroValueError: VGG16: pretrained=True would download weights, ...
    """

    conv1_1: Conv2d
    conv1_2: Conv2d
    conv2_1: Conv2d
    conv2_2: Conv2d
    conv3_1: Conv2d
    conv3_2: Conv2d
    conv3_3: Conv2d
    conv4_1: Conv2d
    conv4_2: Conv2d
    conv4_3: Conv2d
    conv5_1: Conv2d
    conv5_2: Conv2d
    conv5_3: Conv2d
    fc6: Linear
    fc7: Linear
    fc8: Linear

    @typechecked
    def __init__(self, pretrained: bool = False, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        _refuse_download("VGG16", pretrained, "conv1_1/W")
        self._rng = rng
        self.blocks: list[list[Conv2d]] = []
        for block, (channels, depth) in enumerate(_VGG16_BLOCKS, start=1):
            convs = [Conv2d(channels, 3, 1, 1, rng=rng) for _ in range(depth)]
            for i, conv in enumerate(convs, start=1):
                setattr(self, f"conv{block}_{i}", conv)
            self.blocks.append(convs)
        self.fc6 = Linear(4096, rng=rng)
        self.fc7 = Linear(4096, rng=rng)
        self.fc8 = Linear(1000, rng=rng)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        for convs in self.blocks:
            for conv in convs:
                x = F.relu(conv(x))
            x = F.pooling(x, 2, 2)
        h = F.reshape(x, (x.shape[0], -1))
        h = F.dropout(F.relu(self.fc6(h)), rng=self._rng)
        h = F.dropout(F.relu(self.fc7(h)), rng=self._rng)
        return self.fc8(h)


# -- ResNet --------------------------------------------------------------------------------------


@final
class BottleneckA(Layer[[Variable | Arr], Variable]):
    """The first bottleneck of a ResNet stage, which changes the channels (and the resolution when
    ``stride > 1``): ``relu(h + bn4(conv4(x)))`` with
    ``h = bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))``: 1x1 conv1 (in -> mid), 3x3 conv2
    (mid -> mid, pad 1), 1x1 conv3 (mid -> out) and the 1x1 projection conv4 (in -> out, stride
    `stride`); no convolution has a bias.

    The stride sits on conv1 (the original MSRA ResNet) or, with ``downsample_fb=True``, on conv2
    (Facebook's ResNet, "ResNet v1.5").
    """

    @typechecked
    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        stride: int = 2,
        downsample_fb: bool = False,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_positive(
            "BottleneckA",
            in_channels=in_channels,
            mid_channels=mid_channels,
            out_channels=out_channels,
            stride=stride,
        )
        stride_1x1, stride_3x3 = (1, stride) if downsample_fb else (stride, 1)
        self.conv1 = Conv2d(mid_channels, 1, stride_1x1, 0, nobias=True, in_channels=in_channels, rng=rng)
        self.bn1 = BatchNorm(channels=mid_channels)
        self.conv2 = Conv2d(mid_channels, 3, stride_3x3, 1, nobias=True, in_channels=mid_channels, rng=rng)
        self.bn2 = BatchNorm(channels=mid_channels)
        self.conv3 = Conv2d(out_channels, 1, 1, 0, nobias=True, in_channels=mid_channels, rng=rng)
        self.bn3 = BatchNorm(channels=out_channels)
        self.conv4 = Conv2d(out_channels, 1, stride, 0, nobias=True, in_channels=in_channels, rng=rng)
        self.bn4 = BatchNorm(channels=out_channels)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + self.bn4(self.conv4(x)))


@final
class BottleneckB(Layer[[Variable | Arr], Variable]):
    """A bottleneck that keeps the channels and the resolution, with an identity shortcut:
    ``relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + x)``, 1x1 conv1 (in -> mid), 3x3 conv2
    (mid -> mid, pad 1), 1x1 conv3 (mid -> in); no convolution has a bias."""

    @typechecked
    def __init__(
        self, in_channels: int, mid_channels: int, *, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        check_positive("BottleneckB", in_channels=in_channels, mid_channels=mid_channels)
        self.conv1 = Conv2d(mid_channels, 1, 1, 0, nobias=True, in_channels=in_channels, rng=rng)
        self.bn1 = BatchNorm(channels=mid_channels)
        self.conv2 = Conv2d(mid_channels, 3, 1, 1, nobias=True, in_channels=mid_channels, rng=rng)
        self.bn2 = BatchNorm(channels=mid_channels)
        self.conv3 = Conv2d(in_channels, 1, 1, 0, nobias=True, in_channels=mid_channels, rng=rng)
        self.bn3 = BatchNorm(channels=in_channels)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + x)


@final
class BuildingBlock(Layer[[Variable | Arr], Variable]):
    """One ResNet stage: a :class:`BottleneckA` (registered as ``a``) then ``n_layers - 1``
    :class:`BottleneckB` (``b1``, ``b2``, ...)."""

    @typechecked
    def __init__(  # noqa: PLR0917 - DeZero's positional signature
        self,
        n_layers: int,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        stride: int,
        downsample_fb: bool = False,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_positive("BuildingBlock", n_layers=n_layers)
        self.a = BottleneckA(in_channels, mid_channels, out_channels, stride, downsample_fb, rng=rng)
        self.bs: list[BottleneckB] = []
        for i in range(1, n_layers):
            block = BottleneckB(out_channels, mid_channels, rng=rng)
            setattr(self, f"b{i}", block)
            self.bs.append(block)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        h = self.a(x)
        for block in self.bs:
            h = block(h)
        return h


_RESNET_STAGES: Final = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
"""Bottlenecks per stage for each depth (He et al., 2015, table 1)."""


def _global_average_pooling_2d(x: Variable) -> Variable:
    """(N, C, H, W) -> (N, C): the mean of each channel."""
    return F.mean(x, axis=(2, 3))


class ResNet(Model[[Variable | Arr], Variable]):
    """ResNet (He et al., 2015) with bottleneck blocks, for 1000 ImageNet classes: a 7x7 convolution
    (64 channels, stride 2, pad 3, with bias), batch norm, ReLU, 3x3 max pooling (stride 2), four
    stages (:class:`BuildingBlock`) of 256, 512, 1024 and 2048 output channels (the last three halve
    the resolution), global average pooling and the fully connected ``fc6`` (1000).

    Arguments:
        n_layers: 50, 101 or 152 (3/4/6/3, 3/4/23/3 or 3/8/36/3 bottlenecks per stage); anything
            else raises DezeroValueError.
        pretrained: must be False; weights are never downloaded (True raises DezeroValueError).
            Load a local file with ``model.load_weights(path)`` instead.
        rng: the Generator for the initial weights.

    Input (N, 3, H, W) images (224 x 224 for ImageNet; any size from 8 x 8 works); output (N, 1000)
    class scores (logits). All weights exist once the model is built (ResNet50: about 25.6 million
    values), so it can be saved or loaded before any call. In training mode batch norm needs at least
    two values per channel: with small images, use batches of two or more, or ``test_mode()``.

    Examples:
        >>> from typed_dezero.models import ResNet
        >>> ResNet(34)
        Traceback (most recent call last):
        ...
        typed_dezero.errors.DezeroValueError: ResNet: n_layers must be 50, 101 or 152, got 34
    """

    @typechecked
    def __init__(
        self, n_layers: int = 152, pretrained: bool = False, *, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        stages = _RESNET_STAGES.get(n_layers)
        if stages is None:
            msg = f"ResNet: n_layers must be 50, 101 or 152, got {n_layers!r}"
            raise DezeroValueError(msg)
        _refuse_download(f"ResNet{n_layers}", pretrained, "res2/a/conv1/W")
        self.n_layers = n_layers
        self.conv1 = Conv2d(64, 7, 2, 3, in_channels=3, rng=rng)
        self.bn1 = BatchNorm(channels=64)
        self.res2 = BuildingBlock(stages[0], 64, 64, 256, 1, rng=rng)
        self.res3 = BuildingBlock(stages[1], 256, 128, 512, 2, rng=rng)
        self.res4 = BuildingBlock(stages[2], 512, 256, 1024, 2, rng=rng)
        self.res5 = BuildingBlock(stages[3], 1024, 512, 2048, 2, rng=rng)
        self.fc6 = Linear(1000, in_size=2048, rng=rng)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.pooling(h, 3, 2)
        h = self.res5(self.res4(self.res3(self.res2(h))))
        return self.fc6(_global_average_pooling_2d(h))


@final
class ResNet50(ResNet):
    """:class:`ResNet` with 50 layers."""

    @typechecked
    def __init__(self, pretrained: bool = False, *, rng: np.random.Generator | None = None) -> None:
        super().__init__(50, pretrained, rng=rng)


@final
class ResNet101(ResNet):
    """:class:`ResNet` with 101 layers."""

    @typechecked
    def __init__(self, pretrained: bool = False, *, rng: np.random.Generator | None = None) -> None:
        super().__init__(101, pretrained, rng=rng)


@final
class ResNet152(ResNet):
    """:class:`ResNet` with 152 layers."""

    @typechecked
    def __init__(self, pretrained: bool = False, *, rng: np.random.Generator | None = None) -> None:
        super().__init__(152, pretrained, rng=rng)

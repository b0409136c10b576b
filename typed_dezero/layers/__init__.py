"""Layers: ``import typed_dezero.layers as L``."""

from typed_dezero.layers.conv import Conv2d as Conv2d
from typed_dezero.layers.conv import Deconv2d as Deconv2d
from typed_dezero.layers.embedding import EmbedID as EmbedID
from typed_dezero.layers.layer import Layer as Layer
from typed_dezero.layers.layer import UninitializedParameterError as UninitializedParameterError
from typed_dezero.layers.linear import Linear as Linear
from typed_dezero.layers.normalization import BatchNorm as BatchNorm
from typed_dezero.layers.recurrent import LSTM as LSTM
from typed_dezero.layers.recurrent import RNN as RNN

__all__ = [
    "LSTM",
    "RNN",
    "BatchNorm",
    "Conv2d",
    "Deconv2d",
    "EmbedID",
    "Layer",
    "Linear",
    "UninitializedParameterError",
]

"""The differentiable function library: ``import typed_dezero.functions as F``."""

from typed_dezero.functions.activation import leaky_relu as leaky_relu
from typed_dezero.functions.activation import log_softmax as log_softmax
from typed_dezero.functions.activation import relu as relu
from typed_dezero.functions.activation import sigmoid as sigmoid
from typed_dezero.functions.activation import sigmoid_simple as sigmoid_simple
from typed_dezero.functions.activation import softmax as softmax
from typed_dezero.functions.activation import softmax_simple as softmax_simple
from typed_dezero.functions.arithmetic import add as add
from typed_dezero.functions.arithmetic import div as div
from typed_dezero.functions.arithmetic import mul as mul
from typed_dezero.functions.arithmetic import neg as neg
from typed_dezero.functions.arithmetic import pow as pow
from typed_dezero.functions.arithmetic import rdiv as rdiv
from typed_dezero.functions.arithmetic import rsub as rsub
from typed_dezero.functions.arithmetic import sub as sub
from typed_dezero.functions.conv import average_pooling as average_pooling
from typed_dezero.functions.conv import col2im as col2im
from typed_dezero.functions.conv import conv2d as conv2d
from typed_dezero.functions.conv import conv2d_simple as conv2d_simple
from typed_dezero.functions.conv import deconv2d as deconv2d
from typed_dezero.functions.conv import im2col as im2col
from typed_dezero.functions.conv import pooling as pooling
from typed_dezero.functions.conv import pooling_simple as pooling_simple
from typed_dezero.functions.linalg import linear as linear
from typed_dezero.functions.linalg import linear_simple as linear_simple
from typed_dezero.functions.linalg import matmul as matmul
from typed_dezero.functions.loss import accuracy as accuracy
from typed_dezero.functions.loss import binary_cross_entropy as binary_cross_entropy
from typed_dezero.functions.loss import mean_squared_error as mean_squared_error
from typed_dezero.functions.loss import mean_squared_error_simple as mean_squared_error_simple
from typed_dezero.functions.loss import sigmoid_cross_entropy as sigmoid_cross_entropy
from typed_dezero.functions.loss import softmax_cross_entropy as softmax_cross_entropy
from typed_dezero.functions.loss import softmax_cross_entropy_simple as softmax_cross_entropy_simple
from typed_dezero.functions.math import abs as abs
from typed_dezero.functions.math import cos as cos
from typed_dezero.functions.math import exp as exp
from typed_dezero.functions.math import log as log
from typed_dezero.functions.math import sin as sin
from typed_dezero.functions.math import sqrt as sqrt
from typed_dezero.functions.math import square as square
from typed_dezero.functions.math import tanh as tanh
from typed_dezero.functions.recurrent import lstm_step as lstm_step
from typed_dezero.functions.recurrent import lstm_step_simple as lstm_step_simple
from typed_dezero.functions.reduction import average as average
from typed_dezero.functions.reduction import max as max
from typed_dezero.functions.reduction import mean as mean
from typed_dezero.functions.reduction import min as min
from typed_dezero.functions.reduction import sum as sum
from typed_dezero.functions.regularization import batch_norm as batch_norm
from typed_dezero.functions.regularization import batch_nrom as batch_nrom
from typed_dezero.functions.regularization import clip as clip
from typed_dezero.functions.regularization import dropout as dropout
from typed_dezero.functions.regularization import embed_id as embed_id
from typed_dezero.functions.shape import broadcast_to as broadcast_to
from typed_dezero.functions.shape import expand_dims as expand_dims
from typed_dezero.functions.shape import flatten as flatten
from typed_dezero.functions.shape import get_item as get_item
from typed_dezero.functions.shape import reshape as reshape
from typed_dezero.functions.shape import squeeze as squeeze
from typed_dezero.functions.shape import sum_to as sum_to
from typed_dezero.functions.shape import transpose as transpose

__all__ = [
    "abs",
    "accuracy",
    "add",
    "average",
    "average_pooling",
    "batch_norm",
    "batch_nrom",
    "binary_cross_entropy",
    "broadcast_to",
    "clip",
    "col2im",
    "conv2d",
    "conv2d_simple",
    "cos",
    "deconv2d",
    "div",
    "dropout",
    "embed_id",
    "exp",
    "expand_dims",
    "flatten",
    "get_item",
    "im2col",
    "leaky_relu",
    "linear",
    "linear_simple",
    "log",
    "log_softmax",
    "lstm_step",
    "lstm_step_simple",
    "matmul",
    "max",
    "mean",
    "mean_squared_error",
    "mean_squared_error_simple",
    "min",
    "mul",
    "neg",
    "pooling",
    "pooling_simple",
    "pow",
    "rdiv",
    "relu",
    "reshape",
    "rsub",
    "sigmoid",
    "sigmoid_cross_entropy",
    "sigmoid_simple",
    "sin",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_simple",
    "softmax_simple",
    "sqrt",
    "square",
    "squeeze",
    "sub",
    "sum",
    "sum_to",
    "tanh",
    "transpose",
]

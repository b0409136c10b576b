"""DeZero's module name for the convolution family: ``from typed_dezero import functions_conv``.

The functions live in :mod:`typed_dezero.functions` (``typed_dezero.functions.conv``); this module
only re-exports them under the name DeZero's code imports.
"""

from typed_dezero.functions.conv import (
    average_pooling,
    col2im,
    conv2d,
    conv2d_simple,
    deconv2d,
    im2col,
    pooling,
    pooling_simple,
)

__all__ = [
    "average_pooling",
    "col2im",
    "conv2d",
    "conv2d_simple",
    "deconv2d",
    "im2col",
    "pooling",
    "pooling_simple",
]

"""Helpers: gradient checking, array utilities, graph drawing and file downloads."""

from typed_dezero.utils.arrays import array_allclose as array_allclose
from typed_dezero.utils.arrays import array_equal as array_equal
from typed_dezero.utils.arrays import logsumexp as logsumexp
from typed_dezero.utils.arrays import max_backward_shape as max_backward_shape
from typed_dezero.utils.arrays import pair as pair
from typed_dezero.utils.arrays import reshape_sum_backward as reshape_sum_backward
from typed_dezero.utils.arrays import sum_to as sum_to
from typed_dezero.utils.conv import get_conv_outsize as get_conv_outsize
from typed_dezero.utils.conv import get_deconv_outsize as get_deconv_outsize
from typed_dezero.utils.dot import GraphvizError as GraphvizError
from typed_dezero.utils.dot import GraphvizNotFoundError as GraphvizNotFoundError
from typed_dezero.utils.dot import get_dot_graph as get_dot_graph
from typed_dezero.utils.dot import plot_dot_graph as plot_dot_graph
from typed_dezero.utils.download import ProgressHook as ProgressHook
from typed_dezero.utils.download import cache_dir as cache_dir
from typed_dezero.utils.download import get_file as get_file
from typed_dezero.utils.download import show_progress as show_progress
from typed_dezero.utils.gradcheck import GradientCheckResult as GradientCheckResult
from typed_dezero.utils.gradcheck import gradient_check as gradient_check
from typed_dezero.utils.gradcheck import numerical_diff as numerical_diff
from typed_dezero.utils.gradcheck import numerical_grad as numerical_grad

__all__ = [
    "GradientCheckResult",
    "GraphvizError",
    "GraphvizNotFoundError",
    "ProgressHook",
    "array_allclose",
    "array_equal",
    "cache_dir",
    "get_conv_outsize",
    "get_deconv_outsize",
    "get_dot_graph",
    "get_file",
    "gradient_check",
    "logsumexp",
    "max_backward_shape",
    "numerical_diff",
    "numerical_grad",
    "pair",
    "plot_dot_graph",
    "reshape_sum_backward",
    "show_progress",
    "sum_to",
]

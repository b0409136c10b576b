"""Helpers: gradient checking, array utilities and graph drawing."""

from typed_dezero.utils.arrays import array_allclose as array_allclose
from typed_dezero.utils.arrays import array_equal as array_equal
from typed_dezero.utils.arrays import logsumexp as logsumexp
from typed_dezero.utils.arrays import pair as pair
from typed_dezero.utils.arrays import sum_to as sum_to
from typed_dezero.utils.gradcheck import GradientCheckResult as GradientCheckResult
from typed_dezero.utils.gradcheck import gradient_check as gradient_check
from typed_dezero.utils.gradcheck import numerical_diff as numerical_diff
from typed_dezero.utils.gradcheck import numerical_grad as numerical_grad

__all__ = [
    "GradientCheckResult",
    "array_allclose",
    "array_equal",
    "gradient_check",
    "logsumexp",
    "numerical_diff",
    "numerical_grad",
    "pair",
    "sum_to",
]

"""Output sizes of convolutions and transposed convolutions along one spatial axis."""

from __future__ import annotations

from typed_dezero._checking import typechecked
from typed_dezero.errors import DezeroValueError

__all__ = ["get_conv_outsize", "get_deconv_outsize"]


def _check_arguments(where: str, *checks: tuple[str, int, int]) -> None:
    """Raise unless every ``(name, value, minimum)`` has ``value >= minimum``."""
    for name, value, minimum in checks:
        if value < minimum:
            msg = f"{where}: {name} must be >= {minimum}, got {value}"
            raise DezeroValueError(msg)


@typechecked
def get_conv_outsize(input_size: int, kernel_size: int, stride: int, pad: int) -> int:
    """The output length ``(input_size + 2 * pad - kernel_size) // stride + 1`` of a convolution.

    Raises ValueError (:class:`~typed_dezero.errors.DezeroValueError`) when `input_size`,
    `kernel_size` or `stride` is below 1, `pad` is negative, or the kernel does not fit the padded
    input (a result below 1).
    """
    _check_arguments(
        "get_conv_outsize",
        ("input_size", input_size, 1),
        ("kernel_size", kernel_size, 1),
        ("stride", stride, 1),
        ("pad", pad, 0),
    )
    if input_size + 2 * pad < kernel_size:
        msg = (
            f"get_conv_outsize: kernel_size={kernel_size} does not fit the padded input "
            f"(input_size={input_size} + 2 * pad={pad} = {input_size + 2 * pad})"
        )
        raise DezeroValueError(msg)
    return (input_size + 2 * pad - kernel_size) // stride + 1


@typechecked
def get_deconv_outsize(size: int, k: int, s: int, p: int) -> int:
    """The default output length ``s * (size - 1) + k - 2 * p`` of a transposed convolution.

    The inverse of :func:`get_conv_outsize` (which maps the result back to `size`). Raises
    ValueError when `size`, `k` or `s` is below 1, `p` is negative, or the result is below 1.
    """
    _check_arguments("get_deconv_outsize", ("size", size, 1), ("k", k, 1), ("s", s, 1), ("p", p, 0))
    out = s * (size - 1) + k - 2 * p
    if out < 1:
        msg = (
            f"get_deconv_outsize: the output size s*(size-1)+k-2p = {out} is not positive "
            f"(size={size}, k={k}, s={s}, p={p})"
        )
        raise DezeroValueError(msg)
    return out

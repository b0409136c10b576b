"""get_conv_outsize / get_deconv_outsize against window counting, and their errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from typed_dezero import DezeroValueError
from typed_dezero.utils.conv import get_conv_outsize, get_deconv_outsize


def count_windows(size: int, k: int, s: int, p: int) -> int:
    """How many k-windows, starting every s steps, fit on an axis of length size padded by p."""
    return sum(1 for start in range(0, size + 2 * p, s) if start + k <= size + 2 * p)


@given(size=st.integers(1, 30), k=st.integers(1, 8), s=st.integers(1, 5), p=st.integers(0, 4))
def test_conv_outsize_counts_the_windows(size: int, k: int, s: int, p: int) -> None:
    expected = count_windows(size, k, s, p)
    if expected == 0:
        with pytest.raises(DezeroValueError, match=r"get_conv_outsize: kernel_size=\d+ does not fit"):
            get_conv_outsize(size, k, s, p)
    else:
        assert get_conv_outsize(size, k, s, p) == expected


@given(size=st.integers(1, 30), k=st.integers(1, 8), s=st.integers(1, 5), p=st.integers(0, 4))
def test_deconv_outsize_is_the_smallest_size_that_convolves_back(size: int, k: int, s: int, p: int) -> None:
    candidates = [n for n in range(1, s * size + k + 1) if count_windows(n, k, s, p) == size]
    if not candidates or s * (size - 1) + k - 2 * p < 1:
        with pytest.raises(DezeroValueError, match="get_deconv_outsize: the output size"):
            get_deconv_outsize(size, k, s, p)
    else:
        out = get_deconv_outsize(size, k, s, p)
        assert out == min(candidates)
        assert get_conv_outsize(out, k, s, p) == size


def test_book_examples() -> None:
    # DeZero step 55: H=4, W=4, kernel 3, stride 1, pad 1 keeps the size
    assert get_conv_outsize(4, 3, 1, 1) == 4
    assert get_conv_outsize(7, 3, 2, 0) == 3
    assert get_deconv_outsize(3, 3, 2, 0) == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 3, 1, 1), r"get_conv_outsize: input_size must be >= 1, got 0"),
        ((4, 0, 1, 1), r"get_conv_outsize: kernel_size must be >= 1, got 0"),
        ((4, 3, 0, 1), r"get_conv_outsize: stride must be >= 1, got 0"),
        ((4, 3, 1, -1), r"get_conv_outsize: pad must be >= 0, got -1"),
        (
            (2, 5, 1, 1),
            r"get_conv_outsize: kernel_size=5 does not fit the padded input "
            r"\(input_size=2 \+ 2 \* pad=1 = 4\)",
        ),
    ],
)
def test_conv_outsize_errors(args: tuple[int, int, int, int], message: str) -> None:
    with pytest.raises(DezeroValueError, match=message):
        get_conv_outsize(*args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 3, 1, 1), r"get_deconv_outsize: size must be >= 1, got 0"),
        ((4, 0, 1, 1), r"get_deconv_outsize: k must be >= 1, got 0"),
        ((4, 3, -2, 1), r"get_deconv_outsize: s must be >= 1, got -2"),
        ((4, 3, 1, -1), r"get_deconv_outsize: p must be >= 0, got -1"),
        ((1, 1, 1, 1), r"get_deconv_outsize: the output size s\*\(size-1\)\+k-2p = -1 is not positive"),
    ],
)
def test_deconv_outsize_errors(args: tuple[int, int, int, int], message: str) -> None:
    with pytest.raises(DezeroValueError, match=message):
        get_deconv_outsize(*args)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="stride"):
        get_conv_outsize(4, 3, 0, 0)

"""Embedding lookup."""

from __future__ import annotations

from typing import final

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero._checking import typechecked
from typed_dezero._typing import IntArr
from typed_dezero.core.variable import Parameter, Variable
from typed_dezero.layers._init import check_fits, check_positive, generator
from typed_dezero.layers.layer import Layer

__all__ = ["EmbedID"]


@final
class EmbedID(Layer[[IntArr], Variable]):
    """A table of `in_size` vectors of size `out_size`; calling with integer ids of any shape returns
    their vectors, shape ``ids.shape + (out_size,)``. W is drawn from a standard normal.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> embed = L.EmbedID(10, 3)  # 10 ids, vectors of size 3
        >>> embed(np.array([[1, 2, 3], [4, 5, 6]])).shape
        (2, 3, 3)
    """

    @typechecked
    def __init__(self, in_size: int, out_size: int, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        check_positive("EmbedID", in_size=in_size, out_size=out_size)
        check_fits("EmbedID", "W (in_size, out_size)", (in_size, out_size))
        self.W = Parameter(generator(rng).standard_normal((in_size, out_size)), name="W")

    @override
    def forward(self, x: IntArr) -> Variable:
        return F.embed_id(x, self.W)

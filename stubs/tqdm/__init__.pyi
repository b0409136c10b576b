# Stub for the part of tqdm (untyped: no py.typed) that typed_dezero's examples use.
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

_T = TypeVar("_T")

class tqdm(Generic[_T]):
    def __init__(
        self,
        iterable: Iterable[_T],
        desc: str | None = ...,
        total: float | None = ...,
        leave: bool | None = ...,
        disable: bool | None = ...,
        unit: str = ...,
        ncols: int | None = ...,
    ) -> None: ...
    def __iter__(self) -> Iterator[_T]: ...
    def set_postfix(self, ordered_dict: None = ..., refresh: bool | None = ..., **kwargs: object) -> None: ...
    def close(self) -> None: ...
    @staticmethod
    def write(s: str, file: object = ..., end: str = ..., nolock: bool = ...) -> None: ...

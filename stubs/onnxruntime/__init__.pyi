# The names of onnxruntime that typed_dezero's tests, docs and examples use (onnxruntime ships no
# type hints): a CPU inference session fed and answered with NumPy arrays.
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy.typing as npt

__version__: str

class NodeArg:
    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> list[int | str | None]: ...
    @property
    def type(self) -> str: ...

class InferenceSession:
    def __init__(
        self,
        path_or_bytes: str | bytes | os.PathLike[str],
        sess_options: object | None = None,
        providers: Sequence[str] | None = None,
    ) -> None: ...
    def get_inputs(self) -> list[NodeArg]: ...
    def get_outputs(self) -> list[NodeArg]: ...
    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, npt.NDArray[Any]]
    ) -> list[npt.NDArray[Any]]: ...

def get_available_providers() -> list[str]: ...

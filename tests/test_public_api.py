"""The public surface: what __all__ lists exists, nothing private leaks, imports stay lean."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap

import pytest

import typed_dezero

PUBLIC_MODULES = [
    "typed_dezero",
    "typed_dezero.functions",
    "typed_dezero.utils",
    "typed_dezero.core",
    "typed_dezero.optimizers",
    "typed_dezero.core_simple",
    "typed_dezero.functions_conv",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_names_exist_and_are_public(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names: list[str] = module.__all__
    assert len(names) == len(set(names)), "duplicates in __all__"
    for name in names:
        assert hasattr(module, name), f"{module_name}.{name} is listed but missing"
        assert not name.startswith("_") or name == "__version__", f"private name {name} exported"


def test_dezero_names_are_at_the_top_level() -> None:
    for name in [
        "Variable",
        "Parameter",
        "Function",
        "Config",
        "using_config",
        "no_grad",
        "test_mode",
        "as_array",
        "as_variable",
        "functions",
        "utils",
        "is_simple_core",
        "core_simple",
        "functions_conv",
    ]:
        assert name in typed_dezero.__all__


def test_dezero_module_names_are_lazy_attributes_of_the_package() -> None:
    from typed_dezero import core_simple, functions_conv

    assert typed_dezero.core_simple is core_simple
    assert typed_dezero.functions_conv is functions_conv
    assert {"core_simple", "functions_conv"} <= set(dir(typed_dezero))


def test_utils_has_dezeros_download_and_graph_names() -> None:
    import inspect

    from typed_dezero import utils

    assert list(inspect.signature(utils.get_file).parameters)[:2] == ["url", "file_name"]
    assert inspect.signature(utils.get_file).parameters["file_name"].default is None
    plot = inspect.signature(utils.plot_dot_graph).parameters
    assert [(n, p.default) for n, p in plot.items()] == [
        ("output", inspect.Parameter.empty),
        ("verbose", True),
        ("to_file", "graph.png"),
    ]
    dot = inspect.signature(utils.get_dot_graph).parameters
    assert [(n, p.default) for n, p in dot.items()] == [
        ("output", inspect.Parameter.empty),
        ("verbose", True),
    ]


def test_is_simple_core_and_the_core_simple_import_path() -> None:
    from typed_dezero import core_simple

    assert typed_dezero.is_simple_core is False
    assert core_simple.Variable is typed_dezero.Variable
    assert core_simple.Function is typed_dezero.Function
    for name in core_simple.__all__:
        assert getattr(core_simple, name) is getattr(typed_dezero, name)


def _run(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
        timeout=120,
    )
    return result.stdout.strip()


def test_imports_only_declared_runtime_dependencies() -> None:
    code = """
        import sys
        from importlib.metadata import packages_distributions
        before = set(sys.modules)
        import typed_dezero, typed_dezero.functions, typed_dezero.utils, typed_dezero.layers
        import typed_dezero.models, typed_dezero.optimizers, typed_dezero.datasets, typed_dezero.dataloaders
        import typed_dezero.transforms
        tops = {m.split(".")[0] for m in set(sys.modules) - before}
        owners = packages_distributions()
        print(" ".join(sorted({d for t in tops for d in owners.get(t, [])})))
    """
    distributions = set(_run(code).split())
    assert distributions <= {"typed-dezero", "numpy", "beartype", "typing_extensions"}, distributions
    assert {"numpy", "beartype"} <= distributions


CHECKED_SUBCLASS = """
    import numpy as np
    from typed_dezero import Arr, UnaryFunction, Variable, RUNTIME_CHECKS

    class Lies(UnaryFunction):
        def forward(self, x: Arr, /) -> Arr:
            return x.astype(np.float32)  # violates its own annotation

        def backward(self, gy: Variable, /) -> Variable:
            return gy

    try:
        Lies()(np.ones(2))
    except TypeError as e:
        print(RUNTIME_CHECKS, type(e).__name__, "beartype" if e.__cause__ is not None else "engine")
"""


def test_runtime_checks_are_on_by_default() -> None:
    assert _run(CHECKED_SUBCLASS) == "True DezeroTypeError beartype"


def test_runtime_checks_switch_off_with_the_environment_variable() -> None:
    # With beartype off, the engine's own float64 guard still rejects the output.
    assert _run(CHECKED_SUBCLASS, TYPED_DEZERO_TYPECHECK="0") == "False DezeroTypeError engine"

"""The one registry of every differentiable public function, with how to draw its inputs.

Each family contributes a list of :class:`GradCase` from its ``cases_<family>.py`` module;
``test_gradients.py`` runs all of them through first- and second-order gradient checks, and
``test_registry_is_complete`` fails when a public function of ``typed_dezero.functions`` is missing.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from typed_dezero import Arr, Variable

Outputs = Variable | tuple[Variable, ...]


@dataclass(frozen=True)
class Drawn:
    """One drawn input: the arrays to differentiate and the fixed keyword arguments."""

    arrays: tuple[Arr, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True)
class GradCase:
    """A public function, a strategy for its inputs, and how far it can be differentiated."""

    name: str
    fn: Callable[..., Outputs]
    inputs: st.SearchStrategy[Drawn]
    label: str = ""
    second_order: bool = True
    rtol: float = 1e-4
    atol: float = 1e-5

    @property
    def id(self) -> str:
        return f"{self.name}[{self.label}]" if self.label else self.name


def drawn(*arrays: st.SearchStrategy[Arr], **kwargs: st.SearchStrategy[Any]) -> st.SearchStrategy[Drawn]:
    """A Drawn from independent strategies for each array and each keyword argument."""
    keys = list(kwargs)
    return st.tuples(st.tuples(*arrays), st.tuples(*(kwargs[k] for k in keys))).map(
        lambda t: Drawn(t[0], dict(zip(keys, t[1], strict=True)))
    )


def all_cases() -> list[GradCase]:
    """The rows of every ``tests/functions/cases_*.py`` module, in module-name order."""
    import tests.functions as package

    cases: list[GradCase] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cases_"):
            module = importlib.import_module(f"tests.functions.{info.name}")
            rows: list[GradCase] = module.CASES
            cases.extend(rows)
    return cases

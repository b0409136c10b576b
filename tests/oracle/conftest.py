"""The oracle suite's figure at the end of the run, and one warning filter that loading torch needs.

The figure is how many (function, input, order, path) comparisons with PyTorch were made. When
the reliability suite runs too, its closing line reports the same figure (``oracle_cases``) among
its own.
"""

from __future__ import annotations

import sys

import pytest

from tests.reliability.harness import COUNTS


def pytest_configure(config: pytest.Config) -> None:
    # Importing torch (at the collection of this folder) creates torch.distributed.reduce_op, a
    # deprecated proxy object that warns on any attribute access; tests elsewhere that scan
    # gc.get_objects() with isinstance() touch it, and the suite turns warnings into errors. Only
    # that warning is ignored, for the session this folder is collected in.
    config.addinivalue_line(
        "filterwarnings", "ignore:`torch.distributed.reduce_op` is deprecated:FutureWarning"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "tests.reliability.conftest" not in sys.modules and COUNTS["oracle_cases"]:
        terminalreporter.write_line(f"oracle figures: oracle_cases={COUNTS['oracle_cases']}")

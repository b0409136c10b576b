"""The reliability suite's marker, and the figures it reports at the end of the run (inputs tried,
faults injected, threads, graph sizes), which docs/reliability.md quotes."""

from __future__ import annotations

import pytest

from .harness import COUNTS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "resources: large graphs (1e6 nodes) and memory accounting; deselect with -m 'not resources'",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COUNTS:
        figures = ", ".join(f"{name}={COUNTS[name]}" for name in sorted(COUNTS))
        terminalreporter.write_line(f"reliability figures: {figures}")

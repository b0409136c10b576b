"""The benchmark harness keeps working: two cheap workloads at tiny sizes, and its helpers.

Nothing here looks at the timings (``make bench`` reports them; no test asserts on time).
"""

from __future__ import annotations

import math
import shutil

import pytest

from benchmarks import instructions, run, scheduling
from benchmarks._common import Row, Settings, Target, fmt, growth_exponent, parse_samples


def test_tiny_run_prints_tables_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--tiny", "--no-torch", "per_op", "6"]) == 0
    out = capsys.readouterr().out
    assert "== 1. per-op overhead" in out
    assert "== 6. higher order" in out
    assert "torch skipped (--no-torch)" in out
    markdown = [line for line in out.splitlines() if line.startswith("| ")]
    assert markdown[0].startswith("| # | workload | case | contender |")
    rows = markdown[1:]
    # per_op: 3 cases x checks on/off; higher_order: orders 1-4 x (time, nodes built)
    assert len(rows) == 6 + 8
    assert all(cells.count("|") == 13 for cells in rows)
    assert "dy/dx agrees across contenders" in out
    assert "the 4th derivative agrees" in out


def test_select_by_number_name_and_prefix() -> None:
    assert [w.name for w in run.select(["7", "mlp", "sched"])] == ["mlp", "scheduling", "import_time"]
    assert len(run.select([])) == 9
    with pytest.raises(SystemExit, match="unknown or ambiguous workload 'x'"):
        run.select(["x"])


def test_row_ratios_and_status() -> None:
    row = Row("c", "typed", "ms", [2.0, 3.0, 4.0], floor=[1.0], torch=[6.0], target=Target(1.0, "torch"))
    assert row.ratio("floor") == 3.0
    assert row.ratio("torch") == 0.5
    assert row.status() == "PASS"
    assert Row("c", "typed", "ms", [3.0], floor=[1.0], target=Target(1.5, "floor")).status() == "MISS"
    assert Row("c", "typed", "ms", [3.0], target=Target(1.0, "torch")).status() == "n/a"
    assert Row("c", "typed", "n", [0.0], target=Target(0, "value"), ratios=False).status() == "PASS"


def test_helpers() -> None:
    assert growth_exponent([10, 100, 1000], [1.0, 10.0, 100.0]) == pytest.approx(1.0)
    assert [fmt(x) for x in (0.01234, 1.234, 12.34, 1234.5, 7.0, math.nan)] == [
        "0.0123",
        "1.23",
        "12.3",
        "1234",
        "7",
        "n/a",
    ]
    assert parse_samples('{"a": [1, 2.5]}') == {"a": [1.0, 2.5]}
    with pytest.raises(TypeError, match="JSON object"):
        parse_samples("[1]")
    assert Settings.from_json(Settings.for_mode("quick").to_json()) == Settings.for_mode("quick")
    assert scheduling.tree_sum([1, 2, 3, 4, 5], lambda a, b: a + b) == 15
    assert scheduling.size_text(10_000) == "1e4"
    assert scheduling.size_text(300) == "300"


CACHEGRIND_TAIL = """==123==
==123== I   refs:      1,579,490,727
"""


def test_instruction_counts_are_read_from_cachegrinds_report() -> None:
    assert instructions.parse_refs("==1== Cachegrind\n" + CACHEGRIND_TAIL) == 1_579_490_727
    with pytest.raises(ValueError, match="I refs"):
        instructions.parse_refs("==1== valgrind: command not found")
    with pytest.raises(SystemExit):
        instructions.main(["no-such-case"])


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="counts instructions with valgrind")
def test_an_instruction_count_per_operation_is_a_plausible_positive_figure() -> None:
    # A few calls only (the import alone under valgrind takes seconds): the harness works, and an
    # operation costs thousands of instructions, not zero (a broken difference) nor millions.
    case = instructions.Case("per_op", "forward", 30, 10, "op")
    figure = instructions.per_operation(instructions.ROOT, case, checks=False)
    assert 2_000 < figure < 500_000

"""`python -m benchmarks --write-docs`: the tables of README.md and docs/benchmarks.md come from one
run, written between their markers, and nothing is written when a page lacks them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from benchmarks import run
from benchmarks._common import Row, Settings, Target, WorkloadResult

ROOT = Path(__file__).resolve().parent.parent


def _results() -> list[WorkloadResult]:
    timed = Row("epoch", "typed_dezero (checks on)", "s", [2.0], torch=[4.0], target=Target(1.0, "torch"))
    plain = Row("forward", "typed_dezero (checks off)", "s", [3.0], floor=[1.0])
    return [WorkloadResult(2, "mlp", "MLP training", [timed, plain])]


def _pages(root: Path, readme: str, docs: str) -> tuple[Path, Path]:
    (root / "docs").mkdir()
    first, second = root / "README.md", root / "docs" / "benchmarks.md"
    first.write_text(readme, encoding="utf-8")
    second.write_text(docs, encoding="utf-8")
    return first, second


def test_both_pages_get_the_tables_of_one_run_and_keep_the_rest(tmp_path: Path) -> None:
    page = f"# Title\n\nbefore\n\n{run.START}\nold table\n{run.END}\n\nafter\n"
    readme, docs = _pages(tmp_path, page, page)
    readme.chmod(0o644)
    written = run.publish(_results(), Settings.for_mode("tiny", use_torch=False), tmp_path)
    assert written == [readme, docs]
    for path, rows in (
        (readme, ["| 2 | mlp | epoch |"]),
        (docs, ["| 2 | mlp | epoch |", "| 2 | mlp | forward |"]),
    ):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# Title\n\nbefore\n\n" + run.START + "\n\n| # | workload |")
        assert text.endswith(run.END + "\n\nafter\n")
        assert "old table" not in text
        table = [line for line in text.splitlines() if line.startswith("| 2 |")]
        assert [line[: len(r)] for line, r in zip(table, rows, strict=True)] == rows
        assert "0.50x" in text  # the ratio to PyTorch of the row with a target
        assert "Medians of one `python -m benchmarks --write-docs` run (tiny mode" in text
        assert "cores, one BLAS/OpenMP thread" in text
    assert stat.S_IMODE(readme.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "docs"]


@pytest.mark.parametrize(
    "broken",
    [
        "no markers\n",
        f"{run.END}\n{run.START}\n",
        f"{run.START}\n{run.START}\n{run.END}\n",
        f"{run.START}\nno end\n",
    ],
)
def test_a_page_without_its_markers_changes_no_file(tmp_path: Path, broken: str) -> None:
    good = f"{run.START}\nold\n{run.END}\n"
    readme, docs = _pages(tmp_path, good, broken)
    with pytest.raises(SystemExit, match="needs one <!-- bench:start --> line"):
        run.publish(_results(), Settings.for_mode("tiny", use_torch=False), tmp_path)
    assert readme.read_text(encoding="utf-8") == good
    assert docs.read_text(encoding="utf-8") == broken
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == ["benchmarks.md"]


def test_the_project_pages_have_their_markers() -> None:
    for name, _ in run.PAGES:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert (text.count(run.START), text.count(run.END)) == (1, 1), name


def test_write_docs_is_an_option_of_the_runner() -> None:
    assert run.parse_args(["--write-docs"]).write_docs
    assert not run.parse_args([]).write_docs

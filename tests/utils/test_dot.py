"""Graph drawing: the DOT text of a graph, and rendering it with a stand-in for Graphviz's `dot`."""

from __future__ import annotations

import gc
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero import Arr, DezeroError, DezeroValueError, TwoOutputFunction, Variable
from typed_dezero.utils.dot import GraphvizError, GraphvizNotFoundError, get_dot_graph, plot_dot_graph

NODE = re.compile(r'^(\w+) \[label="((?:[^"\\]|\\.)*)", color=(\w+), style=filled(, shape=box)?\]$')
EDGE = re.compile(r"^(\w+) -> (\w+)$")


def _parse(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Node labels by node id, and the edges, of a DOT text; fails on any other kind of line."""
    lines = text.splitlines()
    assert lines[0] == "digraph g {"
    assert lines[-1] == "}"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        node, edge = NODE.match(line), EDGE.match(line)
        if node:
            assert node.group(1) not in nodes, f"node {node.group(1)} declared twice"
            is_function = node.group(4) is not None
            assert node.group(3) == ("lightblue" if is_function else "orange")
            nodes[node.group(1)] = node.group(2)
        else:
            assert edge, f"unexpected DOT line {line!r}"
            edges.append((edge.group(1), edge.group(2)))
    for a, b in edges:
        assert a in nodes, f"edge {a} -> {b} starts at an undeclared node"
        assert b in nodes, f"edge {a} -> {b} ends at an undeclared node"
    return nodes, edges


def test_dot_graph_of_one_function_is_exact() -> None:
    x = Variable(np.ones((1, 3)), name="x")
    y = F.square(x)
    y.name = "y"
    expected = (
        "digraph g {\n"
        'v0 [label="y: (1, 3) float64", color=orange, style=filled]\n'
        'f0 [label="Square", color=lightblue, style=filled, shape=box]\n'
        "f0 -> v0\n"
        'v1 [label="x: (1, 3) float64", color=orange, style=filled]\n'
        "v1 -> f0\n"
        "}\n"
    )
    assert get_dot_graph(y) == expected


def _small_graph() -> tuple[Variable, Variable]:
    x = Variable(np.array([1.0, 2.0]), name="x")
    a = x * x  # x feeds Mul twice
    b = F.exp(x)
    z = a + b
    z.name = "z"
    return x, z


def test_dot_graph_has_each_node_once_and_every_edge() -> None:
    x, z = _small_graph()
    nodes, edges = _parse(get_dot_graph(z))
    by_label: dict[str, list[str]] = {}
    for key, label in nodes.items():
        by_label.setdefault(label, []).append(key)
    assert sorted(by_label) == sorted(
        ["Add", "Mul", "Exp", "x: (2,) float64", "z: (2,) float64", "(2,) float64"]
    )
    assert len(by_label["(2,) float64"]) == 2  # the unnamed intermediates a and b
    assert all(len(v) == 1 for k, v in by_label.items() if k != "(2,) float64")
    (xk,) = by_label["x: (2,) float64"]
    (zk,) = by_label["z: (2,) float64"]
    (mul,) = by_label["Mul"]
    (add,) = by_label["Add"]
    (exp,) = by_label["Exp"]
    assert edges.count((xk, mul)) == 2
    assert (xk, exp) in edges
    assert (add, zk) in edges
    a_key = next(dst for src, dst in edges if src == mul)
    b_key = next(dst for src, dst in edges if src == exp)
    assert {(a_key, add), (b_key, add)} <= set(edges)
    assert len(edges) == 8  # x->Mul twice, x->Exp, Mul->a, Exp->b, a->Add, b->Add, Add->z
    assert x.grad is None  # drawing does not run backward


def test_dot_graph_without_verbose_shows_names_only() -> None:
    _, z = _small_graph()
    nodes, _ = _parse(get_dot_graph(z, verbose=False))
    assert sorted(nodes.values()) == sorted(["Add", "Mul", "Exp", "x", "z", "", ""])


def test_dot_graph_is_deterministic() -> None:
    _, z1 = _small_graph()
    _, z2 = _small_graph()
    text = get_dot_graph(z1)
    assert get_dot_graph(z1) == text
    assert get_dot_graph(z2) == text  # the same structure gives the same text, whatever the ids


def test_dot_graph_of_a_leaf_is_one_node() -> None:
    x = Variable(np.zeros((2, 2)))
    assert get_dot_graph(x) == 'digraph g {\nv0 [label="(2, 2) float64", color=orange, style=filled]\n}\n'


def test_dot_graph_escapes_labels() -> None:
    x = Variable(np.zeros(1), name='a "quoted"\\name\nline')
    nodes, _ = _parse(get_dot_graph(x, verbose=False))
    assert nodes == {"v0": 'a \\"quoted\\"\\\\name\\nline'}


def test_dot_graph_walk_is_iterative() -> None:
    x = Variable(np.array(0.5), name="x")
    y = x
    depth = 3 * sys.getrecursionlimit()
    for _ in range(depth):
        y = F.sin(y)
    nodes, edges = _parse(get_dot_graph(y))
    assert sum(label == "Sin" for label in nodes.values()) == depth
    assert len(nodes) == 2 * depth + 1
    assert len(edges) == 2 * depth


class Halves(TwoOutputFunction):
    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return x * 0.5, x * 0.5

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        return (gy0 + gy1) * 0.5


def test_dot_graph_shows_live_sibling_outputs_and_skips_released_ones() -> None:
    x = Variable(np.ones(2), name="x")
    y0, y1 = Halves()(x)
    y0.name, y1.name = "y0", "y1"
    nodes, edges = _parse(get_dot_graph(y0, verbose=False))
    assert sorted(nodes.values()) == ["Halves", "x", "y0", "y1"]
    assert len(edges) == 3
    del y1
    gc.collect()
    nodes, edges = _parse(get_dot_graph(y0, verbose=False))
    assert sorted(nodes.values()) == ["Halves", "x", "y0"]
    assert len(edges) == 2


# -- plot_dot_graph --------------------------------------------------------------------------------

FAKE_DOT = """#!{python}
import sys
args = sys.argv[1:]
out = args[args.index("-o") + 1]
source = sys.stdin.read()
mode = {mode!r}
if mode == "fail":
    open(out, "w").write("partial")
    sys.stderr.write("Error: renderer for bogus is unavailable\\n")
    sys.exit(3)
if mode == "ok":
    with open(out, "w") as f:
        f.write(args[0] + "\\n" + source)
"""


def _install_fake_dot(folder: Path, monkeypatch: pytest.MonkeyPatch, mode: str = "ok") -> None:
    """A `dot` stand-in on a PATH of its own: writes its format flag and the DOT source to the -o file
    ("ok"), writes part of a file and fails ("fail"), or succeeds without writing ("silent")."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dot"
    script.write_text(FAKE_DOT.format(python=sys.executable, mode=mode))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_plot_renders_through_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_dot(tmp_path, monkeypatch)
    _, z = _small_graph()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "graph.png"
    assert plot_dot_graph(z, to_file=target) is None
    assert target.read_text() == "-Tpng\n" + get_dot_graph(z)
    assert [p.name for p in out_dir.iterdir()] == ["graph.png"]  # no temporary file left
    plot_dot_graph(z, False, str(out_dir / "g.SVG"))  # str path; the suffix sets the format
    assert (out_dir / "g.SVG").read_text() == "-Tsvg\n" + get_dot_graph(z, verbose=False)
    assert sorted(p.name for p in out_dir.iterdir()) == ["g.SVG", "graph.png"]


def test_plot_replaces_an_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_dot(tmp_path, monkeypatch)
    target = tmp_path / "graph.pdf"
    target.write_text("old")
    _, z = _small_graph()
    plot_dot_graph(z, to_file=target)
    assert target.read_text().startswith("-Tpdf\ndigraph g {")


def test_plot_default_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_dot(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    plot_dot_graph(Variable(np.ones(1)))
    assert (tmp_path / "graph.png").read_text().startswith("-Tpng\n")


def test_plot_failure_leaves_no_file_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_dot(tmp_path, monkeypatch, mode="fail")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    kept = out_dir / "kept.png"
    kept.write_text("old")
    x = Variable(np.ones(1))
    with pytest.raises(
        GraphvizError, match=r"`dot -Tbogus` failed with exit status 3: Error: renderer for bogus"
    ):
        plot_dot_graph(x, to_file=out_dir / "graph.bogus")
    with pytest.raises(GraphvizError, match="exit status 3"):
        plot_dot_graph(x, to_file=kept)
    assert kept.read_text() == "old"  # the previous file is untouched
    assert [p.name for p in out_dir.iterdir()] == ["kept.png"]


def test_plot_reports_a_dot_that_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_dot(tmp_path, monkeypatch, mode="silent")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(GraphvizError, match=r"`dot -Tpng` reported success but wrote no output"):
        plot_dot_graph(Variable(np.ones(1)), to_file=out_dir / "graph.png")
    assert list(out_dir.iterdir()) == []


def test_plot_without_graphviz_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None
    with pytest.raises(GraphvizNotFoundError, match=r"`dot` program was not found on PATH") as info:
        plot_dot_graph(Variable(np.ones(1)), to_file=tmp_path / "graph.png")
    assert "apt-get install graphviz" in str(info.value)
    assert "brew install graphviz" in str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value, DezeroError)
    assert not (tmp_path / "graph.png").exists()


def test_plot_rejects_bad_targets(tmp_path: Path) -> None:
    x = Variable(np.ones(1))
    with pytest.raises(
        DezeroValueError, match=r"to_file must end in a suffix naming the format .* got '.*graph'"
    ):
        plot_dot_graph(x, to_file=tmp_path / "graph")
    with pytest.raises(FileNotFoundError, match="the folder of to_file does not exist"):
        plot_dot_graph(x, to_file=tmp_path / "missing" / "graph.png")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_plot_with_real_graphviz(tmp_path: Path) -> None:
    _, z = _small_graph()
    target = tmp_path / "graph.svg"
    plot_dot_graph(z, to_file=target)
    assert "<svg" in target.read_text()

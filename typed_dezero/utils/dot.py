"""Graph drawing: the DOT text of the computational graph behind a Variable, rendered by Graphviz."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from typed_dezero._checking import typechecked
from typed_dezero.core.function import Function
from typed_dezero.core.variable import Variable
from typed_dezero.errors import DezeroError, DezeroValueError

__all__ = ["GraphvizError", "GraphvizNotFoundError", "get_dot_graph", "plot_dot_graph"]

_INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: `sudo apt-get install graphviz`; macOS: `brew install graphviz`; "
    "conda: `conda install graphviz`; Windows: https://graphviz.org/download/) and make sure `dot` is on "
    "PATH, or write get_dot_graph(...)'s text to a .dot file and render it elsewhere"
)


class GraphvizError(DezeroError, RuntimeError):
    """Graphviz could not render a graph."""


class GraphvizNotFoundError(GraphvizError):
    """Graphviz's ``dot`` program is not on PATH."""


def _quote(text: str) -> str:
    """`text` as a DOT double-quoted string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _variable_label(v: Variable, verbose: bool) -> str:
    name = v.name or ""
    if verbose:
        name = f"{name}: " if name else ""
        name += f"{v.shape} {v.dtype}"
    return name


@typechecked
def get_dot_graph(output: Variable, verbose: bool = True) -> str:
    """The DOT text of the graph that computed `output`: Variables are orange ellipses, Functions
    light-blue boxes, edges run from inputs to Functions to outputs.

    Arguments:
        output: the Variable whose history is drawn (a Variable without creator is a lone node).
        verbose: label Variables with ``name: shape dtype`` rather than just their name.
    Returns:
        a ``digraph g { ... }`` text. Nodes are numbered in the order of a walk from `output`
        (``v0`` is `output`), so the same graph always gives the same text. The walk is iterative:
        graphs of any depth work.
    """
    lines: list[str] = []
    # Variables and Functions hash by identity.
    var_ids: dict[Variable, str] = {}
    func_ids: dict[Function[Any, Any], str] = {}

    def var_node(v: Variable) -> str:
        key = var_ids.get(v)
        if key is None:
            key = var_ids[v] = f"v{len(var_ids)}"
            label = _quote(_variable_label(v, verbose))
            lines.append(f"{key} [label={label}, color=orange, style=filled]")
        return key

    var_node(output)
    stack: list[Function[Any, Any]] = []

    def push(f: Function[Any, Any] | None) -> None:
        if f is not None and f not in func_ids:
            func_ids[f] = f"f{len(func_ids)}"
            stack.append(f)

    push(output.creator)
    while stack:
        f = stack.pop()
        key = func_ids[f]
        lines.append(f"{key} [label={_quote(type(f).__name__)}, color=lightblue, style=filled, shape=box]")
        for ref in f.outputs:
            y = ref()
            if y is not None:  # outputs are weak references; a released one is left out
                lines.append(f"{key} -> {var_node(y)}")
        for x in f.inputs:
            lines.append(f"{var_node(x)} -> {key}")
            push(x.creator)
    body = "".join(f"{line}\n" for line in lines)
    return f"digraph g {{\n{body}}}\n"


@typechecked
def plot_dot_graph(
    output: Variable, verbose: bool = True, to_file: str | os.PathLike[str] = "graph.png"
) -> None:
    """Render the graph of `output` (see :func:`get_dot_graph`) to `to_file` with Graphviz's ``dot``.

    The format comes from the file suffix (``.png``, ``.svg``, ``.pdf``, ...). The image is written to
    a temporary file in the same folder and moved into place when complete, so a failure never leaves
    a partial file behind.

    Raises:
        GraphvizNotFoundError (a RuntimeError) when ``dot`` is not on PATH, with installation hints;
        GraphvizError when ``dot`` fails (its error output is included);
        DezeroValueError when `to_file` has no suffix; FileNotFoundError when its folder is missing.
    """
    target = Path(to_file)
    fmt = target.suffix[1:].lower()
    if not fmt:
        msg = (
            "plot_dot_graph: to_file must end in a suffix naming the format (e.g. graph.png), "
            f"got {str(target)!r}"
        )
        raise DezeroValueError(msg)
    folder = target.parent
    if not folder.is_dir():
        msg = f"plot_dot_graph: the folder of to_file does not exist: {str(folder)!r}"
        raise FileNotFoundError(msg)
    exe = shutil.which("dot")
    if exe is None:
        msg = f"plot_dot_graph: Graphviz's `dot` program was not found on PATH; {_INSTALL_HINT}"
        raise GraphvizNotFoundError(msg)
    source = get_dot_graph(output, verbose)
    tmp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        try:
            subprocess.run(
                [exe, f"-T{fmt}", "-o", str(tmp)],
                input=source.encode(),
                capture_output=True,
                check=True,
            )
        except subprocess.CalledProcessError as e:
            err = e.stderr.decode(errors="replace").strip()
            msg = f"plot_dot_graph: `dot -T{fmt}` failed with exit status {e.returncode}: {err}"
            raise GraphvizError(msg) from e
        if not tmp.is_file() or tmp.stat().st_size == 0:
            msg = f"plot_dot_graph: `dot -T{fmt}` reported success but wrote no output"
            raise GraphvizError(msg)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)

"""The documentation's code is real: every ```python block and every ```pycon session of the pages
in docs/ and of the README runs, page by page, in order, in one namespace per page, in a temporary
working directory. ```pycon sessions are doctests: their printed output must match (``...`` stands
for any text). Blocks in other languages (bash, text, yaml) are not run.

The static side is checked by tests/test_packaging.py, which type-checks the Python blocks of the
pages in TYPED_PAGES with strict mypy and pyright against the installed wheel.
"""

from __future__ import annotations

import doctest
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

PAGES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]

TYPED_PAGES = [
    ROOT / "README.md",
    DOCS / "getting-started.md",
    DOCS / "guides" / "functions.md",
    DOCS / "guides" / "higher-order.md",
    DOCS / "guides" / "training.md",
    DOCS / "guides" / "typing.md",
]
"""Pages whose Python blocks, joined, make a module that must pass strict mypy and pyright."""

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)

_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int
    """The line of the page where the code starts (1-based)."""


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of `page`, dedented, in order."""
    text = page.read_text(encoding="utf-8")
    found: list[Block] = []
    for match in _FENCE.finditer(text):
        indent = match["indent"]
        lines = match["body"].splitlines(keepends=True)
        code = "".join(line[len(indent) :] if line.startswith(indent) else line for line in lines)
        found.append(Block(match["lang"], code, text.count("\n", 0, match.start("body")) + 1))
    return found


def python_source(page: Path) -> str:
    """The page's ```python blocks joined into one module, each preceded by a comment naming its line."""
    parts = [f"# {page.name}, line {b.line}\n{b.code}" for b in blocks(page) if b.lang == "python"]
    return "\n".join(parts)


def _run_session(block: Block, page: Path, namespace: dict[str, object]) -> None:
    name = f"{page.relative_to(ROOT)}:{block.line}"
    test = doctest.DocTestParser().get_doctest(block.code, namespace, name, str(page), block.line - 1)
    test.globs = namespace  # the page's own namespace, not a copy: `del x` must really drop x
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=_FLAGS)
    result = runner.run(test, out=report.append, clear_globs=False)
    if result.failed:
        pytest.fail(f"the session at {name} does not match:\n{''.join(report)}", pytrace=False)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for block in blocks(page):
        if block.lang == "python":
            code = compile("\n" * (block.line - 1) + block.code, str(page), "exec")
            exec(code, namespace)
        elif block.lang == "pycon":
            _run_session(block, page, namespace)


def test_pages_have_examples() -> None:
    # A page whose fences the pattern above misses would pass silently: the guides must show code.
    others = ["dezero.md", "autograd.md", "runtime-checks.md", "guides/leaving-typed-dezero.md"]
    for page in [*TYPED_PAGES, *(DOCS / p for p in others)]:
        langs = {b.lang for b in blocks(page)}
        assert langs & {"python", "pycon"}, f"{page} has no runnable example"


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        assert str(page.relative_to(DOCS)) in nav, f"{page} is missing from mkdocs.yml's nav"


def test_reference_covers_the_public_modules() -> None:
    reference = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))
    for module in [
        "typed_dezero",
        "typed_dezero.functions",
        "typed_dezero.layers",
        "typed_dezero.models",
        "typed_dezero.optimizers",
        "typed_dezero.datasets",
        "typed_dezero.dataloaders",
        "typed_dezero.transforms",
        "typed_dezero.utils",
        "typed_dezero.errors",
        "typed_dezero.config",
        "typed_dezero.onnx",
    ]:
        assert f"::: {module}\n" in reference, f"no API reference block for {module}"

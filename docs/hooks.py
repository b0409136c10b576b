"""MkDocs hook: fail the build when a public name has no entry in the API reference.

Every name in the ``__all__`` of the documented modules must be the anchor of an entry rendered by
mkdocstrings, either under its public path (``typed_dezero.functions.sin``) or under the path of the
module that defines it (``typed_dezero.functions.math.sin``).
"""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

DOCUMENTED_MODULES = (
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
)

# plot_dot_graph's "Raises:" section is written as sentences, which the Google-style parser cannot
# pair with exception types (one warning per line). Only these warnings are dropped; every other
# docstring warning still fails the strict build.
_TOLERATED = re.compile(r"typed_dezero/utils/dot\.py:\d+: Failed to get 'exception: description' pair")


class _DropTolerated(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _TOLERATED.search(record.getMessage())


def on_config(config: MkDocsConfig, **kwargs: Any) -> MkDocsConfig:
    for name in ("mkdocs.plugins.griffe", "griffe"):
        logging.getLogger(name).addFilter(_DropTolerated())
    return config


_ID = re.compile(r'\bid="([^"]+)"')


def _anchors(site_dir: Path) -> set[str]:
    anchors: set[str] = set()
    for page in (site_dir / "reference").rglob("*.html"):
        anchors.update(_ID.findall(page.read_text(encoding="utf-8")))
    return anchors


def _candidates(module: str, name: str, obj: object) -> set[str]:
    """The anchors under which the entry for ``module.name`` may be rendered."""
    found = {f"{module}.{name}"}
    if type(obj).__name__ == "module":
        found.add(str(getattr(obj, "__name__", "")))
    owner: object = getattr(obj, "__module__", None)
    qualname: object = getattr(obj, "__qualname__", None)
    if isinstance(owner, str) and isinstance(qualname, str):
        found.add(f"{owner}.{qualname}")
    # An alias such as `average = mean` is rendered under its own name in the defining module.
    if isinstance(owner, str):
        found.add(f"{owner}.{name}")
    return found


def _key(path: str, obj: object) -> object:
    """Classes, functions and modules are one entry under all their names; values (a bool, a str)
    are told apart by their path, as equal values may be unrelated."""
    named = hasattr(obj, "__qualname__") or type(obj).__name__ == "module"
    return id(obj) if named else path


def missing_entries(anchors: set[str]) -> list[str]:
    """The public names (``module.name``) that no rendered anchor documents.

    A name re-exported by several modules (``typed_dezero.Layer`` is ``typed_dezero.layers.Layer``)
    is documented once, under any of its public paths."""
    public: list[tuple[str, object]] = []
    paths: dict[object, set[str]] = {}
    for module_name in DOCUMENTED_MODULES:
        module = importlib.import_module(module_name)
        names: list[str] = module.__all__
        for name in names:
            obj: object = getattr(module, name)
            path = f"{module_name}.{name}"
            public.append((path, _key(path, obj)))
            paths.setdefault(_key(path, obj), set()).update(_candidates(module_name, name, obj))
    return [path for path, key in public if not paths[key] & anchors]


def on_post_build(config: MkDocsConfig, **kwargs: Any) -> None:
    missing = missing_entries(_anchors(Path(config.site_dir)))
    if missing:
        msg = f"the API reference has no entry for {len(missing)} public name(s): {', '.join(missing)}"
        raise PluginError(msg)

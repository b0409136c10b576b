"""The distributions work in a typed user's project.

From a copy of the sources, build the sdist and the wheel (``python -m build``), check them
(``twine check --strict``, the ``py.typed`` marker, the version from ``typed_dezero.__version__``),
install the wheel into a fresh virtual environment together with the pinned checkers, and run
strict mypy and strict pyright there on a typed user program and on the Python blocks of the typed
documentation pages, then run the program. Slow (a minute or two: a venv and a few installs),
and it needs the package index that pip is configured with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import typed_dezero
from tests.test_docs import TYPED_PAGES, python_source

pytest.importorskip("build", reason="the `build` package (dev extra) is needed to build the distributions")
pytest.importorskip("twine", reason="the `twine` package (dev extra) is needed to check the distributions")

ROOT = Path(__file__).resolve().parent.parent
VERSION = typed_dezero.__version__

USER_PROGRAM = '''\
"""A typed program that depends on typed_dezero: a Function, a Model, a training loop."""

from typing import assert_type, final

import numpy as np
from typing_extensions import override

import typed_dezero
import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Arr, DataLoader, IntArr, Model, UnaryFunction, Variable, no_grad
from typed_dezero.datasets import Spiral
from typed_dezero.optimizers import Adam


@final
class Softsign(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x / (1.0 + np.abs(x))

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy / (1.0 + F.abs(x)) ** 2


class Classifier(Model[[Variable | Arr], Variable]):
    def __init__(self, hidden: int, classes: int) -> None:
        super().__init__()
        self.l1 = L.Linear(hidden, rng=np.random.default_rng(0))
        self.l2 = L.Linear(classes, rng=np.random.default_rng(1))

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        return self.l2(Softsign()(self.l1(x)))


def train(epochs: int) -> float:
    model = Classifier(16, 3)
    optimizer = Adam(alpha=0.05).setup(model)
    loader: DataLoader[IntArr] = DataLoader(Spiral(), batch_size=50, rng=0)
    for _ in range(epochs):
        for x, t in loader:
            assert_type(x, Arr)
            loss = F.softmax_cross_entropy(model(x), t)
            assert_type(loss, Variable)
            model.cleargrads()
            loss.backward()
            optimizer.update()
    test = Spiral(train=False)
    with no_grad():
        accuracy = F.accuracy(model(test.data), test.label)
    return float(accuracy.data)


if __name__ == "__main__":
    accuracy = train(30)
    print(f"typed_dezero {typed_dezero.__version__}: test accuracy {accuracy:.2f}")
    assert accuracy > 0.6, accuracy
'''

PYRIGHT_CONFIG = {
    "typeCheckingMode": "strict",
    "pythonVersion": "3.11",
    # The typed pages prove with `# type: ignore[...]` that some lines are errors: an unneeded
    # ignore must fail, as it does under strict mypy.
    "reportUnnecessaryTypeIgnoreComment": "error",
}


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path
    python: Path
    """The fresh environment's interpreter, with the wheel and the checkers installed."""
    project: Path
    """A folder holding the user program and the documentation modules, and nothing else."""


def _run(args: list[str | Path], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "MYPYPATH", "VIRTUAL_ENV"}}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _check(done: subprocess.CompletedProcess[str], what: str) -> str:
    assert done.returncode == 0, (
        f"{what} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


def _dev_pins(*names: str) -> list[str]:
    """The exact requirements of the dev extra for `names` (the versions the project checks with)."""
    pins: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["dev"]
    found = [p for p in pins if p.split("==")[0].split("[")[0] in names]
    assert len(found) == len(names), f"dev extra lacks some of {names}: {pins}"
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("packaging")
    # Build from a copy: the build leaves build/ and *.egg-info behind, never in the work tree.
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "CHANGELOG.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "typed_dezero", source / "typed_dezero", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = tmp / "dist"
    _check(_run([sys.executable, "-m", "build", "--outdir", dist, source], cwd=tmp), "python -m build")
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")

    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pins = _dev_pins("numpy", "beartype", "typing_extensions", "mypy", "pyright")
    _check(_run([python, "-m", "pip", "install", "--quiet", wheel, *pins], cwd=tmp), "pip install")

    project = tmp / "project"
    project.mkdir()
    (project / "user_program.py").write_text(USER_PROGRAM)
    for page in TYPED_PAGES:
        (project / f"docs_{page.stem.replace('-', '_')}.py").write_text(python_source(page))
    (project / "pyrightconfig.json").write_text(json.dumps(PYRIGHT_CONFIG))
    return Built(wheel, sdist, python, project)


def test_distributions_are_named_for_the_version(built: Built) -> None:
    assert built.wheel.name == f"typed_dezero-{VERSION}-py3-none-any.whl"
    assert built.sdist.name == f"typed_dezero-{VERSION}.tar.gz"
    with zipfile.ZipFile(built.wheel) as wheel:
        metadata = wheel.read(f"typed_dezero-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {VERSION}\n" in metadata
    assert "Typing :: Typed" in metadata


def test_distributions_contain_py_typed(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = wheel.namelist()
    assert "typed_dezero/py.typed" in names
    assert "typed_dezero/functions/conv.py" in names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    with tarfile.open(built.sdist) as sdist:
        members = sdist.getnames()
    assert f"typed_dezero-{VERSION}/typed_dezero/py.typed" in members


def test_twine_check_passes(built: Built) -> None:
    out = _check(
        _run([sys.executable, "-m", "twine", "check", "--strict", built.wheel, built.sdist], cwd=ROOT),
        "twine",
    )
    assert out.count("PASSED") == 2


def test_the_wheel_is_what_the_environment_imports(built: Built) -> None:
    code = "import typed_dezero; print(typed_dezero.__version__, typed_dezero.__file__)"
    version, path = _check(_run([built.python, "-c", code], cwd=built.project), "import").split()
    assert version == VERSION
    assert "site-packages" in path
    assert not path.startswith(str(ROOT))


def test_strict_mypy_accepts_user_code(built: Built) -> None:
    files = sorted(p.name for p in built.project.glob("*.py"))
    done = _run(
        [built.python, "-m", "mypy", "--strict", "--python-version", "3.11", *files], cwd=built.project
    )
    out = _check(done, "strict mypy")
    assert f"Success: no issues found in {len(files)} source files" in out


def test_strict_pyright_accepts_user_code(built: Built) -> None:
    files = sorted(p.name for p in built.project.glob("*.py"))
    done = _run(
        [built.python, "-m", "pyright", "--outputjson", "--pythonpath", built.python, *files],
        cwd=built.project,
    )
    report = json.loads(done.stdout)
    problems = [d for d in report["generalDiagnostics"] if d["severity"] in ("error", "warning")]
    assert not problems, json.dumps(problems, indent=1)[:4000]
    assert report["summary"]["errorCount"] == 0
    assert report["summary"]["filesAnalyzed"] == len(files)


def test_user_program_runs(built: Built) -> None:
    out = _check(_run([built.python, "user_program.py"], cwd=built.project, timeout=300), "the user program")
    assert out.startswith(f"typed_dezero {VERSION}: test accuracy")

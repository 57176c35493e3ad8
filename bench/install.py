"""crossbox as users run it: a real (non-editable) install in a virtual environment of its own.

The repository's .venv holds an editable install, whose import finder costs about
20 ms at every start, and this machine's shells may set PYTHONDONTWRITEBYTECODE,
which leaves the sources uncompiled. Neither is what a user has, so the benchmark
installs the working tree into a fresh virtual environment made from the same
base interpreter, with its bytecode compiled.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .harness import run, say

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "host", "guest", "shared")


def clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without the variables that change how Python starts."""
    base = dict(os.environ if env is None else env)
    for key in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONPROFILEIMPORTTIME",
                "PYTHONNOUSERSITE", "VIRTUAL_ENV", "PYTHONINSPECT", "PYTHONVERBOSE"):
        base.pop(key, None)
    return base


def base_python() -> str:
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


@dataclass(frozen=True)
class Install:
    venv: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def crossbox(self) -> str:
        return str(self.venv / "bin" / "crossbox")

    def site_packages(self) -> Path:
        return next(self.venv.glob("lib/python3*/site-packages"))


def install(venv: Path) -> Install:
    """Copy the working tree's sources, pip install them (not editable), compile the bytecode."""
    src = venv.parent / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    env = clean_env()
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    say(f"installing crossbox from the working tree into {venv} (a real install, bytecode compiled)")
    run([base_python(), "-m", "venv", "--clear", str(venv)], env)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(src)], env)
    done = Install(venv)
    run([done.python, "-m", "compileall", "-q", str(done.site_packages() / "crossbox")], env)
    shutil.rmtree(src, ignore_errors=True)
    return done

"""crossbox as users run it: a real (non-editable) install in a virtual environment of its own.

The repository's .venv holds an editable install, whose import finder costs about
20 ms at every start, and this machine's shells may set PYTHONDONTWRITEBYTECODE,
which leaves the sources uncompiled. Neither is what a user has, so the benchmark
installs the working tree into a fresh virtual environment made from the same
base interpreter, with its bytecode compiled.

For an ordinary user (the peers' benchmark runs rootless), whose account cannot
reach that interpreter, `install_for_user` installs with `pip --target` into a
directory the user can read, compiles it with the user's interpreter (Debian's
python3) and installs crossbox's launcher (packaging/bin/crossbox) with that interpreter
on its first line, as pip does: the same program as /usr/bin/crossbox of a Debian package,
on PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .harness import run, say

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "host", "guest", "shared", "packaging/bin")
LAUNCHER = REPO / "packaging" / "bin" / "crossbox"


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


def _copy_sources(src: Path) -> None:
    """The working tree's sources, without bytecode, in a fresh directory."""
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)


def install(venv: Path) -> Install:
    """Copy the working tree's sources, pip install them (not editable), compile the bytecode."""
    src = venv.parent / "src"
    _copy_sources(src)
    env = clean_env()
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    say(f"installing crossbox from the working tree into {venv} (a real install, bytecode compiled)")
    run([base_python(), "-m", "venv", "--clear", str(venv)], env)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(src)], env)
    done = Install(venv)
    run([done.python, "-m", "compileall", "-q", str(done.site_packages() / "crossbox")], env)
    shutil.rmtree(src, ignore_errors=True)
    return done


def launcher_for(python: str) -> str:
    """packaging/bin/crossbox with ``python`` on its first line, as an installer writes it."""
    _, rest = LAUNCHER.read_text().split("\n", 1)
    return f"#!{python}\n{rest}"


@dataclass(frozen=True)
class UserInstall:
    root: Path
    python: str  # the user's interpreter

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def crossbox(self) -> str:
        return str(self.root / "bin" / "crossbox")

    @property
    def env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.site)}


def install_for_user(root: Path, python: str = "/usr/bin/python3") -> UserInstall:
    """crossbox and its dependencies for a user who can read ``root`` but not this interpreter."""
    done = UserInstall(root, python)
    src = root / "src"
    _copy_sources(src)
    env = clean_env()
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    say(f"installing crossbox from the working tree into {done.site} for another user (pip --target, "
        f"bytecode compiled by {python})")
    run([base_python(), "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(done.site), str(src)],
        {**env, "PIP_NO_WARN_SCRIPT_LOCATION": "1"})
    shutil.rmtree(done.site / "bin", ignore_errors=True)  # pip's scripts name this interpreter, not the user's
    run([python, "-m", "compileall", "-q", str(done.site)], env)
    script = Path(done.crossbox)
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(launcher_for(python))
    script.chmod(0o755)
    shutil.rmtree(src, ignore_errors=True)
    for path in (root, *root.rglob("*")):  # chmod -R a+rX
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | 0o444 | (0o111 if path.is_dir() or mode & 0o100 else 0))
    return done

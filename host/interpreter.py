"""How the guest agent starts natively in any image: the host's own Python, run
through the host's own dynamic loader, with the host's libraries.

Inside the container the host root is at /run/host and the interpreter's
prefix is bind-mounted at /run/crossbox/python (rootful containers cannot read
/root through /run/host). The loader, the library path (RUNPATH and RPATH
included, as pyenv builds need) and the crossbox package directories are
worked out here, on the host, with pyelftools.

No PYTHONHOME is needed (and none is set: the container's environment reaches
every exec session and would break the image's own Python): run as
/run/crossbox/python/bin/pythonX.Y, the interpreter finds its standard library
by its landmark (lib/pythonX.Y/os.py) next to itself. It runs with -I -S -B, so
nothing from the image's environment or site directories reaches the agent.
"""

from __future__ import annotations

import os
import sys

from crossbox.shared import contract
from crossbox.shared.records import NamedTuple

from .errors import HostNotReady

GUEST_PYTHON_ENV = "CROSSBOX_GUEST_PYTHON"  # use another host interpreter for the agent (settings.py)


class ElfDeps(NamedTuple):
    interp: str | None
    needed: tuple[str, ...]
    runpath: tuple[str, ...]  # DT_RUNPATH, else DT_RPATH, with $ORIGIN expanded


def read_elf_deps(path: str) -> ElfDeps:
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.segments import InterpSegment

    origin = os.path.dirname(os.path.realpath(path))
    interp = None
    needed: list[str] = []
    runpath: list[str] = []
    rpath: list[str] = []
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for seg in elf.iter_segments():
            if isinstance(seg, InterpSegment):
                interp = seg.get_interp_name()
        dynamic = elf.get_section_by_name(".dynamic")
        if isinstance(dynamic, DynamicSection):
            for tag in dynamic.iter_tags():
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED":
                    needed.append(tag.needed)  # type: ignore[attr-defined]
                elif kind == "DT_RUNPATH":
                    runpath += tag.runpath.split(":")  # type: ignore[attr-defined]
                elif kind == "DT_RPATH":
                    rpath += tag.rpath.split(":")  # type: ignore[attr-defined]
    dirs = runpath or rpath
    expanded = tuple(
        d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for d in dirs if d
    )
    return ElfDeps(interp, tuple(needed), expanded)


def _ld_so_conf_dirs(conf: str = "/etc/ld.so.conf", depth: int = 0) -> list[str]:
    import glob

    out: list[str] = []
    if depth > 5:
        return out
    try:
        with open(conf, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include "):
            pattern = line.split(None, 1)[1]
            if not pattern.startswith("/"):
                pattern = os.path.join(os.path.dirname(conf), pattern)
            for inc in sorted(glob.glob(pattern)):
                out += _ld_so_conf_dirs(inc, depth + 1)
        else:
            out.append(line)
    return out


def default_library_dirs(loader: str) -> list[str]:
    loader_dir = os.path.dirname(os.path.realpath(loader))
    triplet = os.path.basename(loader_dir) if "-linux-" in os.path.basename(loader_dir) else ""
    dirs = [*_ld_so_conf_dirs(), loader_dir]
    if triplet:
        dirs += [f"/lib/{triplet}", f"/usr/lib/{triplet}"]
    dirs += ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]
    return dirs


def _unique_real_dirs(dirs: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for d in dirs:
        real = os.path.realpath(d)
        if os.path.isdir(real):
            seen.setdefault(real, None)
    return list(seen)


class GuestLaunch(NamedTuple):
    """The host side of the agent's start: host paths, and how they appear inside."""

    prefix: str  # host path of the interpreter's prefix
    python: str  # host path of the interpreter binary (inside prefix)
    loader: str  # host path of the dynamic loader, symlinks resolved
    library_dirs: tuple[str, ...]  # host paths, symlinks resolved, in search order
    guest_package: str  # host directory of crossbox.guest
    shared_package: str  # host directory of crossbox.shared

    def inside(self, host_path: str) -> str:
        """Where a host path is seen inside the container."""
        rel = os.path.relpath(host_path, self.prefix)
        if rel != ".." and not rel.startswith("../"):  # "..name" is inside the prefix
            return contract.PYTHON_DIR if rel == "." else f"{contract.PYTHON_DIR}/{rel}"
        return contract.HOST_ROOT + host_path

    def entrypoint(self) -> str:
        return self.inside(self.loader)

    def command(self, guest_argv: list[str]) -> list[str]:
        """Arguments to the loader: the library path, the interpreter, the agent."""
        return [
            "--inhibit-cache",  # never the image's /etc/ld.so.cache: every library is on the path
            "--library-path",
            ":".join(self.inside(d) for d in self.library_dirs),
            self.inside(self.python),
            "-I",
            "-S",
            "-B",
            "-c",
            contract.BOOT_CODE,
            *guest_argv,
        ]

    def host_argv(self, guest_argv: list[str]) -> list[str]:
        """The same start with host paths (benchmarks): loader, library path, interpreter.

        BOOT_CODE still names the in-container LIB_DIR; a caller on the host swaps it
        for a directory that holds crossbox/guest and crossbox/shared (bench/agent.py).
        """
        return [self.loader, "--inhibit-cache", "--library-path", ":".join(self.library_dirs), self.python,
                *self.command(guest_argv)[4:]]


def _package_dir(module: str) -> str:
    import importlib

    mod = importlib.import_module(module)
    return os.path.dirname(os.path.realpath(mod.__file__ or ""))


def base_interpreter() -> tuple[str, str]:
    """The interpreter and prefix running crossbox, outside any virtual environment."""
    from .settings import current as settings

    override = settings().guest_python
    if override:
        # Not resolved: /usr/bin/python3 stays that (it survives a minor upgrade); its prefix
        # is the directory above its bin/.
        python = os.path.abspath(override)
        if not os.path.isfile(python) or not os.access(python, os.X_OK):
            raise HostNotReady(f"{GUEST_PYTHON_ENV}={override} is not an executable file",
                               "point it at a Python >= 3.11 (such as /usr/bin/python3), or unset it")
        prefix = os.path.dirname(os.path.dirname(python))
        return python, prefix
    python = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    return version_independent(python, prefix), prefix


def version_independent(python: str, prefix: str) -> str:
    """<prefix>/bin/python3 when it is a relative link (or the file itself) to this interpreter.

    A container keeps the path it was created with: `python3` survives a minor upgrade of the
    host's Python (3.11 to 3.12) where `python3.11` would not. A link with an absolute target
    would point into the image inside the container, so only a relative one is taken.
    """
    candidate = os.path.join(prefix, "bin", "python3")
    try:
        target = os.readlink(candidate)
    except OSError:
        target = None
    if target is not None and target.startswith("/"):
        return python
    if os.path.exists(candidate) and os.path.realpath(candidate) == python:
        return candidate
    return python


_plans: dict[tuple[str | None, str | None], GuestLaunch] = {}


def plan(python: str | None = None, prefix: str | None = None) -> GuestLaunch:
    """The launch of the agent for this interpreter (remembered for the process)."""
    key = (python, prefix)
    if key not in _plans:
        _plans[key] = _plan(python, prefix)
    return _plans[key]


def _plan(python: str | None = None, prefix: str | None = None) -> GuestLaunch:
    import glob

    if python is None or prefix is None:
        python, prefix = base_interpreter()
    if os.path.relpath(python, prefix).startswith(".."):
        raise HostNotReady(
            f"the Python interpreter {python} is not inside its prefix {prefix}, so it cannot be "
            "bind-mounted for the guest agent",
            f"set {GUEST_PYTHON_ENV} to a Python >= 3.11 installed under a prefix",
        )
    if not glob.glob(os.path.join(prefix, "lib", "python3.*", "os.py")):
        raise HostNotReady(f"the Python prefix {prefix} has no lib/python3.* standard library")
    try:
        deps = read_elf_deps(os.path.realpath(python))
    except ImportError as exc:
        raise HostNotReady(f"crossbox needs the Python module pyelftools, which {sys.executable} cannot import "
                           f"({exc})", "install python3-pyelftools (Debian, Ubuntu, Fedora) or `pip install "
                           "pyelftools`") from None
    except Exception as exc:  # pyelftools' ELFError for a script, OSError, ...
        raise HostNotReady(f"the Python interpreter {python} is not a readable ELF executable ({exc})",
                           f"set {GUEST_PYTHON_ENV} to a dynamically linked Python >= 3.11, or unset it") from None
    if deps.interp is None:
        raise HostNotReady(
            f"the Python interpreter {python} is statically linked, which crossbox does not expect",
            f"set {GUEST_PYTHON_ENV} to a dynamically linked Python >= 3.11",
        )
    loader = os.path.realpath(deps.interp)
    dirs: list[str] = [*deps.runpath]
    search = [*deps.runpath, *default_library_dirs(loader)]
    # Resolve the interpreter's own libraries (libpython, libc) and theirs, one level
    # deep is enough for CPython; the default directories cover extension modules.
    for name in deps.needed:
        for d in search:
            candidate = os.path.join(d, name)
            if os.path.exists(candidate):
                dirs.append(os.path.dirname(os.path.realpath(candidate)))
                sub = read_elf_deps(candidate)
                dirs += sub.runpath
                break
    dirs += default_library_dirs(loader)
    return GuestLaunch(
        prefix=prefix,
        python=python,
        loader=loader,
        library_dirs=tuple(_unique_real_dirs(dirs)),
        guest_package=_package_dir("crossbox.guest"),
        shared_package=_package_dir("crossbox.shared"),
    )


def plan_cached() -> GuestLaunch:
    """plan(), cached while the interpreter and the loader configuration are unchanged."""
    from .cache import cached

    python, prefix = base_interpreter()
    guest_dir, shared_dir = _package_dir("crossbox.guest"), _package_dir("crossbox.shared")
    key = f"launch:{python}:{prefix}:{guest_dir}:{shared_dir}"

    def compute() -> dict[str, object]:
        p = plan(python, prefix)
        return {
            "prefix": p.prefix, "python": p.python, "loader": p.loader,
            "library_dirs": list(p.library_dirs),
            "guest_package": p.guest_package, "shared_package": p.shared_package,
        }

    value = cached(key, [python, "/etc/ld.so.cache", "/etc/ld.so.conf"], compute)
    launch = GuestLaunch(
        prefix=value["prefix"], python=value["python"], loader=value["loader"],
        library_dirs=tuple(value["library_dirs"]),
        guest_package=value["guest_package"], shared_package=value["shared_package"],
    )
    if not os.path.exists(launch.loader):
        return plan(python, prefix)
    return launch


def native_tools_plan(launch: GuestLaunch) -> tuple[tuple[str, str], str]:
    """For --native-tools: (the host's loader, the program-interpreter path the host's programs
    name it by) and the host's library directories as the box sees them (LD_LIBRARY_PATH)."""
    deps = read_elf_deps(os.path.realpath(launch.python))
    interp = deps.interp or "/lib64/ld-linux-x86-64.so.2"
    dirs = _unique_real_dirs(default_library_dirs(launch.loader))
    return (launch.loader, interp), ":".join(contract.HOST_ROOT + d for d in dirs)


def agent_lib_base() -> str:
    """Where crossbox keeps copies of the agent's packages: readable by a rootful container's root."""
    from .identity import rootless
    from .settings import current as settings

    if not rootless():
        return "/var/lib/crossbox/agent"
    data = settings().data_home or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "crossbox", "agent")


def _agent_files(launch: GuestLaunch) -> list[tuple[str, str]]:
    """(path inside the copy, host path) of every module of crossbox.guest and crossbox.shared."""
    out = []
    for package, directory in (("guest", launch.guest_package), ("shared", launch.shared_package)):
        for name in sorted(os.listdir(directory)):
            if name.endswith(".py"):
                out.append((f"crossbox/{package}/{name}", os.path.join(directory, name)))
    return out


def agent_lib_dir(launch: GuestLaunch, base: str | None = None) -> str:
    """A directory holding nothing but crossbox/guest and crossbox/shared, for the agent.

    Mounted whole at /run/crossbox/lib (first on the agent's sys.path), so that nothing of
    the image's can be imported in their place: a copy of the installed modules, named by
    their content, made once (atomically) and shared by every container of that content.
    Which copy the installed modules make is kept in the probe cache while none of them
    changes (mtime, size, inode), so that a create reads and hashes nothing.
    """
    from .cache import cached

    files = _agent_files(launch)
    base = base or agent_lib_base()
    target = cached(f"agent-lib:{base}", [host for _, host in files], lambda: _make_agent_lib(files, base))
    if isinstance(target, str) and os.path.isdir(target) and os.path.dirname(target) == base:
        return target
    return _make_agent_lib(files, base)  # the copy was removed since: made again


def _compile(path: str, inside: str) -> None:
    """The module's bytecode beside it, for the agent's Python to read (it runs with -B and
    the copy is read-only, so without it every start compiles every module again: about 60 ms
    of a cold start). Checked against the source's hash, so an edited copy is compiled as before;
    an agent Python of another version ignores it. Best effort: the source alone works too."""
    import contextlib
    import importlib.util
    import py_compile

    from crossbox.shared.paths import LIB_DIR

    with contextlib.suppress(OSError, py_compile.PyCompileError):
        py_compile.compile(path, cfile=importlib.util.cache_from_source(path), dfile=f"{LIB_DIR}/{inside}",
                           doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)


def _make_agent_lib(files: list[tuple[str, str]], base: str) -> str:
    import hashlib
    import shutil
    import tempfile

    digest = hashlib.sha256()
    tag = sys.implementation.cache_tag  # the copy holds this interpreter's bytecode (see _compile)
    digest.update(f"bytecode:{tag}\0".encode())
    contents = []
    for inside, host in files:
        with open(host, "rb") as f:
            data = f.read()
        contents.append((inside, data))
        digest.update(inside.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    target = os.path.join(base, digest.hexdigest()[:16])
    if os.path.isdir(target):
        return target
    os.makedirs(base, mode=0o755, exist_ok=True)
    os.chmod(base, 0o755)
    tmp = tempfile.mkdtemp(prefix=".new-", dir=base)
    try:
        for inside, data in contents:
            path = os.path.join(tmp, inside)
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o644)
            if tag is not None:
                _compile(path, inside)
        for root, dirs, _ in os.walk(tmp):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, target)
        except OSError:  # another crossbox made it meanwhile
            if not os.path.isdir(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


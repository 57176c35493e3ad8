"""Build the box's native tool directory (boxes made with --native-tools), at every start.

In the state directory (never in the image: its files are not changed), ``native/bin`` gets
a link for each host tool that stands in for the box's (resolved inside /run/host, so that
the host's own links, such as /usr/bin/awk -> /etc/alternatives/awk, are followed on the
host's side), and small scripts for the compilers, which add the box as the sysroot. The
host's programs run natively: crossbox mounts the host's dynamic loader at their
program-interpreter path, and a session's LD_LIBRARY_PATH (written to native.env) names the
host's library directories under /run/host. See crossbox.shared.nativetools.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os

from crossbox.shared import nativetools, sessionenv
from crossbox.shared.arch import Arch, host_arch
from crossbox.shared.contract import HOST_ROOT, STATE_DIR

from . import log, safefs
from .hostfiles import resolve_host_path

HOST_BIN_DIRS = ("/usr/bin", "/bin", "/usr/local/bin")


def host_program(name: str, host_root: str = HOST_ROOT) -> str | None:
    """Where the host's program ``name`` really is, seen inside the box (links followed on the
    host's side); None when the host has none, or it is no executable of the host's machine."""
    for directory in HOST_BIN_DIRS:
        path = resolve_host_path(f"{directory}/{name}", host_root)
        if path is None or not os.access(path, os.X_OK) or os.path.isdir(path):
            continue
        try:
            with open(path, "rb") as f:
                if host_arch().matches_elf(f.read(64)):
                    return path
        except OSError:
            continue
    return None


def box_has(name: str, box_root: str = "/") -> bool:
    """Whether the box has a program ``name`` of its own where a session's PATH finds one."""
    return any(os.path.lexists(os.path.join(box_root, d.lstrip("/"), name))
               for d in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"))


def _versions(pattern: str) -> list[str]:
    return nativetools.gcc_versions([os.path.basename(p) for p in glob.glob(pattern)])


def box_lib_dir(arch: Arch, box_root: str = "/") -> str | None:
    """Where the box's C start files are (its libc's directory): multiarch, lib64 or lib."""
    for directory in (f"/usr/lib/{arch.gnu_triplet}", "/usr/lib64", "/usr/lib"):
        if os.path.exists(os.path.join(box_root, directory.lstrip("/"), "crt1.o")):
            return directory
    return None


def _wrapper(shell: str, program: str, flags: list[str]) -> str:
    quoted = " ".join(f"'{f}'" for f in flags)
    return f'#!{shell}\nexec \'{program}\' {quoted} "$@"\n'


def build(arch: Arch, library_path: str, base_path: str, host_root: str = HOST_ROOT,
          state_dir: str = STATE_DIR, box_root: str = "/") -> dict[str, object]:
    """Make native/bin afresh; write native.env and the report; return the report."""
    native = os.path.join(state_dir, "native")
    bin_dir = os.path.join(native, "bin")
    with contextlib.suppress(FileNotFoundError):
        _remove_tree(native)
    os.makedirs(bin_dir, mode=0o755)
    inside_bin = nativetools.NATIVE_BIN
    mapped: list[str] = []
    emulated: dict[str, str] = {}

    def link(name: str, target: str) -> None:
        os.symlink(target, os.path.join(bin_dir, name))
        mapped.append(name)

    shell = next((p for p in (host_program(s, host_root) for s in nativetools.SHELLS) if p), None)
    if shell:
        link("sh", shell)
    def keep(name: str, reason: str) -> None:
        """Say why the box's own ``name`` stays emulated; nothing when the box has none either."""
        if box_has(name, box_root):
            emulated[name] = reason

    for name in nativetools.NEUTRAL:
        path = host_program(name, host_root)
        if path:
            link(name, path)
        else:
            keep(name, "the host has none")
    triplet = arch.gnu_triplet
    host_gcc = (_versions(f"{host_root}/usr/lib/gcc-cross/{triplet}/*")
                or _versions(f"{host_root}/usr/lib/gcc/{triplet}/*"))
    box = box_root.rstrip("/")
    box_gcc = _versions(f"{box}/usr/lib/gcc/{triplet}/*") or _versions(f"{box}/usr/lib/gcc/{arch.name}-*-linux*/*")
    ok, why = nativetools.compiler_decision(host_gcc, box_gcc)
    for name in nativetools.BINUTILS:  # a toolchain stays whole: with the box's own gcc, its own binutils
        path = host_program(f"{triplet}-{name}", host_root) if ok else None
        if path:
            link(name, path)
        else:
            keep(name, f"the host has no {triplet}-{name}" if ok else "they go with the box's own gcc")
    lib_dir = box_lib_dir(arch, box_root)
    if ok and shell and lib_dir:
        flags = ["--sysroot=/", f"-B{lib_dir}", f"-L{lib_dir}"]
        for name, host_name in nativetools.COMPILERS.items():
            program = host_program(f"{triplet}-{host_name}", host_root)
            if program is None:
                keep(name, f"the host has no {triplet}-{host_name}")
                continue
            path = os.path.join(bin_dir, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(_wrapper(f"{inside_bin}/sh", program, flags if name != "cpp" else ["--sysroot=/"]))
            os.chmod(path, 0o755)
            mapped.append(name)
    else:
        reason = why if not ok else ("the box has no C library to link against (no crt1.o)" if not lib_dir
                                     else "the host has no POSIX shell to run the compiler's wrapper")
        for name in nativetools.COMPILERS:  # said even when the box has none: the reason is the news
            emulated[name] = reason
    env = {"PATH": f"{inside_bin}:{base_path}", "LD_LIBRARY_PATH": library_path}
    if shell:
        env["CONFIG_SHELL"] = f"{inside_bin}/sh"
    safefs.write_bytes("/" + nativetools.NATIVE_ENV, sessionenv.encode(env), mode=0o644, root=state_dir,
                       keep_attributes=False)
    report: dict[str, object] = {"native": sorted(mapped), "emulated": emulated, "compiler": why,
              "host_gcc": host_gcc[-1] if host_gcc else None, "box_gcc": box_gcc[-1] if box_gcc else None}
    with open(os.path.join(native, nativetools.REPORT), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    log.debug("native tools", native=len(mapped), emulated=len(emulated), compiler=why)
    return report


def _remove_tree(path: str) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            full = os.path.join(root, name)
            if os.path.islink(full):
                os.unlink(full)
            else:
                os.rmdir(full)
    os.rmdir(path)

"""Native tools in a foreign box: which host programs stand in for the box's own, and how.

Everything in a foreign box runs under QEMU; real work there (configure scripts, compilers)
is 10 to 25 times slower than on the host. In a box made with `--native-tools`, a curated set
of tools resolves to the host's own programs, run natively: the cross compiler for the box's
GNU triplet (with the box's own headers and libraries as the sysroot), the cross binutils,
make, a POSIX shell for configure scripts, and tools whose work does not depend on the
machine. What reports or depends on the machine or the box's own packages never is.

Stdlib only: the guest agent builds the tool directory from this table at every start.
"""

from __future__ import annotations

NATIVE_DIR = "/run/crossbox/state/native"  # inside the box: bin/ (first on PATH) and report.json
NATIVE_BIN = f"{NATIVE_DIR}/bin"
REPORT = "report.json"
NATIVE_ENV = "native.env"  # beside session.env: what a session with native tools adds
SWITCH = "CROSSBOX_NATIVE_TOOLS"  # 0 in the host's environment: a session without them

# The compilers: box name -> the host's <triplet>-NAME; they get the box as their sysroot.
COMPILERS = {"cc": "gcc", "gcc": "gcc", "c++": "g++", "g++": "g++", "cpp": "cpp"}
# The cross binutils: box name -> the host's <triplet>-NAME, as they are.
BINUTILS = ("as", "ld", "ar", "ranlib", "nm", "objcopy", "objdump", "strip", "readelf")
# Tools whose work does not depend on the machine: the host's own, as they are.
# Programs only: egrep, fgrep, gunzip and zcat are shell scripts on Debian and Fedora; the box's
# own run under its emulated shell and exec the native grep or gzip found first on PATH.
NEUTRAL = (
    "make", "sed", "grep", "awk", "gawk", "mawk", "m4", "diff", "cmp", "patch", "find", "xargs",
    "tar", "gzip", "xz", "unxz", "xzcat", "bzip2", "bunzip2", "bzcat",
    # coreutils that do not report the machine
    "basename", "cat", "chmod", "cp", "cut", "date", "dirname", "echo", "env", "expr", "false",
    "head", "install", "ln", "ls", "mkdir", "mktemp", "mv", "od", "paste", "printf", "readlink",
    "realpath", "rm", "rmdir", "sleep", "sort", "stat", "tail", "tee", "test", "touch", "tr",
    "true", "uniq", "wc", "[", "comm", "join", "seq", "sha256sum", "md5sum", "tac", "fold",
)
SHELLS = ("dash", "bash")  # the first the host has is the box's native `sh` (CONFIG_SHELL)
# Never mapped: they report or depend on the machine or on the box's own packages.
NEVER = ("uname", "arch", "getconf", "ldd", "pkg-config", "nproc", "python", "python3", "perl", "dpkg",
         "dpkg-architecture", "apt", "apt-get", "rpm", "dnf", "yum", "cmake", "sudo", "su", "id", "hostname")


def major(version: str) -> str:
    """``12.2.0`` -> ``12``; a version directory name of gcc's."""
    return version.split(".", 1)[0].strip()


def gcc_versions(directory_names: list[str]) -> list[str]:
    """The gcc versions among the names of /usr/lib/gcc/TRIPLET/ (or gcc-cross), newest last."""
    found = [name for name in directory_names if name and name[0].isdigit()]

    def key(name: str) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else 0 for p in name.split("."))

    return sorted(found, key=key)


def compiler_decision(host_versions: list[str], box_versions: list[str]) -> tuple[bool, str]:
    """Whether the host's cross compiler may stand in for the box's, and why (one sentence).

    The host's must exist; when the box has a compiler of its own, the major versions must
    match (their headers, libraries and plugins are made for each other)."""
    if not host_versions:
        return False, "the host has no cross compiler for this architecture"
    host = major(host_versions[-1])
    if box_versions and all(major(v) != host for v in box_versions):
        return False, (f"the box's gcc is {major(box_versions[-1])}, the host's cross gcc is {host}: "
                       "the box keeps its own")
    return True, f"the host's cross gcc {host}"


def package_hint(family: str, triplet: str) -> str:
    """The packages that bring a cross toolchain for the triplet, on the host's distribution."""
    if family == "fedora":
        return f"dnf install gcc-{triplet} gcc-c++-{triplet} binutils-{triplet}"
    if family == "debian":
        return f"apt-get install gcc-{triplet} g++-{triplet} binutils-{triplet}"
    return f"install a cross toolchain for {triplet} (gcc, g++, binutils)"

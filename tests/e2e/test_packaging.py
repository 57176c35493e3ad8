"""The packages for real: the .deb installed into a clean Debian root file system (its
autopkgtest run there, `pip check` clean), lintian on the .deb, the wheel into a fresh virtual
environment, `make install` under a prefix, and the RPM spec parsed.

Needs root (chroot, mmdebstrap) and the tools of tests/setup-debian.sh (lintian among them).
The Debian base root file system (bookworm with the .deb's dependencies, from the Debian
mirror) is built once with mmdebstrap and cached like the test bed's images, keyed by its
inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bed import images, sh

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
DOCTOR_KEYS = {"schema", "host_arch", "asked", "ok", "checks"}
CHECK_KEYS = {"name", "status", "message", "hint"}
DEBIAN_TESTS = REPO / "packaging" / "debian" / "tests"
# Beside the .deb's Depends in the clean root: pip, for `pip check`, and Debian 12's shtab
# (1.5.5, a Recommends: too old for fish), removed again to see crossbox without it.
BASE_EXTRA = ["python3-pip", "python3-shtab"]
# lintian -I -E --pedantic tags accepted on the .deb, each with its reason. None today.
LINTIAN_ACCEPTED: dict[str, str] = {}
INSTALLED_COMPLETION = {"bash": "usr/share/bash-completion/completions/crossbox",
                        "zsh": "usr/share/zsh/vendor-completions/_crossbox",
                        "fish": "usr/share/fish/vendor_completions.d/crossbox.fish"}


@pytest.fixture(scope="module", autouse=True)
def _as_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the packaging tests run as root (dpkg-buildpackage, mmdebstrap, chroot)")


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    sh.run([str(REPO / "packaging" / "build-deb.sh"), str(out)])
    (found,) = out.glob("crossbox_*_all.deb")
    return found


def deb_field(deb: Path, field: str) -> str:
    return sh.run(["dpkg-deb", "--field", str(deb), field]).stdout.strip()


def package_names(relation: str) -> list[str]:
    """`python3:any (>= 3.11~), podman (>= 4.3) | docker` -> ["python3", "podman"]."""
    return sorted({re.split(r"[\s:(]", alt.split("|")[0].strip(), maxsplit=1)[0]
                   for alt in relation.split(",") if alt.strip()})


def debian_base(packages: list[str]) -> Path:
    """A clean Debian root file system (tar) with just `packages` and what they need, cached."""
    versions = images._package_versions(packages)
    mm = sh.run(["mmdebstrap", "--version"]).stdout.strip()
    key_src = json.dumps([SUITE, "amd64", "apt", [f"{p}={versions[p]}" for p in packages], mm, "v1"])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    out = images.cache_dir() / f"debian-{SUITE}-amd64-crossbox-deps-{key}.tar"
    if out.exists():
        return out
    partial = out.with_name(f"{out.stem}.{os.getpid()}.partial.tar")
    try:
        sh.run(["mmdebstrap", "--mode=root", "--variant=apt", f"--include={','.join(packages)}", "--quiet",
                SUITE, str(partial)], capture=False, timeout=1800)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


@pytest.fixture
def debian_root(deb: Path) -> Iterator[Path]:
    """A fresh copy of the base, with everything the .deb depends on, and nothing of crossbox."""
    base = debian_base(sorted({*package_names(deb_field(deb, "Depends")), *BASE_EXTRA}))
    root = Path(tempfile.mkdtemp(prefix="crossbox-debroot-", dir="/var/tmp"))
    try:
        sh.run(["tar", "-C", str(root), "-xpf", str(base)])
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def in_root(root: Path, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run in the chroot, with its own /proc, in mount and pid namespaces that vanish with it."""
    return sh.run(["unshare", "--mount", "--pid", "--fork", f"--mount-proc={root}/proc",
                   "chroot", str(root), "env", "-i", f"PATH={PATH}", "HOME=/root", "LANG=C.UTF-8",
                   "DEBIAN_FRONTEND=noninteractive", *argv], check=check)


def assert_doctor_json(text: str) -> None:
    data = json.loads(text)
    assert set(data) >= DOCTOR_KEYS, data
    assert data["schema"] == 1 and isinstance(data["ok"], bool) and data["asked"] == ["x86_64"]
    assert data["checks"] and all(set(c) >= CHECK_KEYS for c in data["checks"])
    assert {c["name"] for c in data["checks"]} >= {"kernel", "podman"}


def autopkgtests() -> list[tuple[str, set[str]]]:
    """(test name, restrictions) of each test in packaging/debian/tests/control."""
    found = []
    for stanza in (DEBIAN_TESTS / "control").read_text().split("\n\n"):
        fields = dict(re.findall(r"^([A-Z][\w-]*):\s*(.*(?:\n[ \t].*)*)", stanza, re.M))
        restrictions = set(re.split(r"[\s,]+", fields.get("Restrictions", "").strip())) - {""}
        found += [(name, restrictions) for name in re.split(r"[\s,]+", fields.get("Tests", "").strip()) if name]
    return found


def test_the_deb_depends_on_podman_and_the_python_libraries_and_recommends_skopeo_qemu_and_shtab(
        deb: Path) -> None:
    depends = package_names(deb_field(deb, "Depends"))
    assert {"podman", "python3", "python3-pyelftools", "python3-structlog"} <= set(depends)
    assert "python3-shtab" not in depends
    assert package_names(deb_field(deb, "Recommends")) == ["python3-shtab", "qemu-user-static", "skopeo"]
    files = sh.run(["dpkg-deb", "--contents", str(deb)]).stdout
    assert "./usr/lib/python3/dist-packages/crossbox/host/cli.py" in files
    for top in ("host", "guest", "shared"):
        assert f"./usr/lib/python3/dist-packages/{top}/" not in files
    # The agent is started by the host's Python with BOOT_CODE, never as a program of the user's.
    assert sorted(re.findall(r"\./usr/bin/\S+", files)) == ["./usr/bin/crossbox"]
    assert "crossbox-guest" not in files


def test_lintian_finds_nothing_on_the_deb(deb: Path) -> None:
    if sh.run(["sh", "-c", "command -v lintian"], check=False).returncode != 0:
        pytest.fail("lintian is missing: tests/setup-debian.sh installs it")
    done = sh.run(["lintian", "-I", "-E", "--pedantic", "--fail-on", "none", str(deb)])
    tags = re.findall(r"^([EWIPX]): crossbox[^:]*: (\S+)(.*)$", done.stdout, re.M)
    unexpected = [f"{level}: {tag}{rest}" for level, tag, rest in tags if tag not in LINTIAN_ACCEPTED]
    assert not unexpected, "lintian -I -E --pedantic:\n" + "\n".join(unexpected)


def run_autopkgtests(root: Path) -> None:
    """Each test of debian/tests/control, as autopkgtest runs it: from a copy of the source's
    debian/tests, failing on a non-zero status, and on stderr output unless allow-stderr."""
    tests = root / "tmp" / "crossbox-src" / "debian" / "tests"
    shutil.rmtree(tests.parents[1], ignore_errors=True)
    shutil.copytree(DEBIAN_TESTS, tests)
    ran = autopkgtests()
    assert ran, "debian/tests/control names no test"
    for name, restrictions in ran:
        done = in_root(root, "sh", "-c", f"cd /tmp/crossbox-src && exec debian/tests/{name}", check=False)
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        assert "allow-stderr" in restrictions or done.stderr == "", (name, done.stderr)


def pip_check(root: Path) -> None:
    done = in_root(root, "python3", "-m", "pip", "check", check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "No broken requirements found."), (done.stdout,
                                                                                           done.stderr)


def test_the_deb_installs_into_a_clean_debian_and_runs(deb: Path, debian_root: Path) -> None:
    shutil.copy2(deb, debian_root / "tmp" / deb.name)
    assert in_root(debian_root, "crossbox", "--version", check=False).returncode == 127  # not there before
    in_root(debian_root, "apt-get", "install", "--yes", "--no-install-recommends", f"/tmp/{deb.name}")
    assert in_root(debian_root, "sh", "-c", "command -v crossbox-guest", check=False).returncode != 0

    assert in_root(debian_root, "crossbox", "--version").stdout == "crossbox 0.1.0\n"
    doctor = in_root(debian_root, "crossbox", "doctor", "--format", "json", check=False)
    assert doctor.returncode in (0, 1), doctor.stderr  # a chroot may well fail checks
    assert_doctor_json(doctor.stdout)

    for page in ("crossbox", "crossbox-create", "crossbox-enter", "crossbox-run", "crossbox-list",
                 "crossbox-rm", "crossbox-rmi", "crossbox-doctor", "crossbox-completion"):
        assert (debian_root / "usr/share/man/man1" / f"{page}.1.gz").is_file(), page
    for script in ("usr/share/bash-completion/completions/crossbox", "usr/share/zsh/vendor-completions/_crossbox",
                   "usr/share/fish/vendor_completions.d/crossbox.fish"):
        assert (debian_root / script).is_file(), script

    # The installed bash script, and the one Debian's own shtab writes, both complete --arch.
    ask = 'COMP_WORDS=(crossbox create --arch ""); COMP_CWORD=3; _shtab_crossbox; printf "%s\\n" "${COMPREPLY[@]}"'
    for load in ("source /usr/share/bash-completion/completions/crossbox", "source <(crossbox completion bash)"):
        offered = in_root(debian_root, "bash", "--norc", "-c", f"{load}; {ask}").stdout.split()
        assert "arm64" in offered and "s390x" in offered, (load, offered)
    # Debian's shtab 1.5.5 cannot write fish: the installed script stands in.
    fish = (debian_root / INSTALLED_COMPLETION["fish"]).read_text()
    assert in_root(debian_root, "crossbox", "completion", "fish").stdout == fish

    # With Debian's shtab (a Recommends, present in this root), then without it.
    pip_check(debian_root)
    run_autopkgtests(debian_root)
    in_root(debian_root, "dpkg", "--remove", "python3-shtab")
    assert in_root(debian_root, "python3", "-c", "import shtab", check=False).returncode != 0
    for shell, path in INSTALLED_COMPLETION.items():
        assert in_root(debian_root, "crossbox", "completion", shell).stdout == (debian_root / path).read_text()
    pip_check(debian_root)
    run_autopkgtests(debian_root)


def test_the_wheel_installs_into_a_fresh_venv_as_the_crossbox_package_only(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    sh.run(["make", "dist", f"DISTDIR={dist}"], cwd=str(REPO), capture=False)
    (wheel,) = dist.glob("crossbox-*-py3-none-any.whl")
    (sdist,) = dist.glob("crossbox-*.tar.gz")

    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        tops = {name.split("/", 1)[0] for name in names}
        name_version = "-".join(wheel.name.split("-")[:2])
        dist_info, data = f"{name_version}.dist-info", f"{name_version}.data"
        metadata = whl.read(f"{dist_info}/METADATA").decode()
        launcher = whl.read(f"{data}/scripts/crossbox").decode()
    assert tops == {"crossbox", dist_info, data}
    # One program, crossbox's own launcher (a `#!python` line for the installer to rewrite), no
    # entry-point script: the guest agent is started by the host's Python, not from PATH.
    assert [n for n in names if n.startswith(f"{data}/")] == [f"{data}/scripts/crossbox"]
    assert f"{dist_info}/entry_points.txt" not in names
    assert launcher.startswith("#!python\n") and "from crossbox.host.cli import entry" in launcher
    requires = re.findall(r"^Requires-Dist: (.*)$", metadata, re.M)
    shtab = [r for r in requires if r.startswith("shtab")]
    assert shtab and all("extra ==" in r for r in shtab), requires  # never a requirement of its own
    assert any("completion" in r for r in shtab), requires
    # The RPM is built from the sdist: it must carry the generated man pages and scripts.
    listing = sh.run(["tar", "-tzf", str(sdist)]).stdout
    for member in ("packaging/man/man1/crossbox.1", "packaging/man/man1/crossbox-create.1",
                   "packaging/completion/crossbox.bash", "packaging/completion/_crossbox",
                   "packaging/completion/crossbox.fish", "packaging/crossbox.spec"):
        assert f"/{member}\n" in listing, member

    venv = tmp_path / "venv"
    sh.run([sys.executable, "-m", "venv", str(venv)])
    sh.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            str(wheel)])
    site = Path(sh.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                .stdout.strip())
    installed = sorted(p.name for p in (site / "crossbox").iterdir() if p.name != "__pycache__")
    assert installed == ["guest", "host", "shared"]
    for top in ("host", "guest", "shared", "host.py", "guest.py", "shared.py"):
        assert not (site / top).exists(), f"a bare top-level {top} was installed"

    env = {"PATH": f"{venv / 'bin'}:{PATH}", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    outside = {"cwd": str(tmp_path), "env": env}  # not the repository, whose host/ must not be what runs
    assert (venv / "bin" / "crossbox").read_text().startswith(f"#!{venv / 'bin' / 'python'}\n")
    assert sh.run([str(venv / "bin" / "crossbox"), "--version"], **outside).stdout == "crossbox 0.1.0\n"
    doctor = sh.run([str(venv / "bin" / "crossbox"), "doctor", "--format", "json"], check=False, **outside)
    assert doctor.returncode in (0, 1), doctor.stderr
    assert_doctor_json(doctor.stdout)
    where = sh.run([str(venv / "bin" / "python"), "-c", "import crossbox.host.cli as c; print(c.__file__)"],
                   **outside).stdout.strip()
    assert where.startswith(str(site)), where
    assert not (venv / "bin" / "crossbox-guest").exists()
    assert sh.run([str(venv / "bin" / "python"), "-m", "pip", "check"], **outside).returncode == 0

    # shtab is the extra "completion": without it and without an installed script, one clear line.
    bare = sh.run([str(venv / "bin" / "crossbox"), "completion", "bash"], check=False, **outside)
    assert bare.returncode == 4 and bare.stdout == "", (bare.returncode, bare.stderr)
    assert "shtab is not installed" in bare.stderr and "Traceback" not in bare.stderr, bare.stderr
    sh.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            f"{wheel}[completion]"])
    assert "complete -o bashdefault -F _shtab_crossbox crossbox" in sh.run(
        [str(venv / "bin" / "crossbox"), "completion", "bash"], **outside).stdout


def test_make_install_puts_man_pages_and_completion_under_the_prefix(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    # A throw-away interpreter: pip, asked to install crossbox under a prefix, first removes the
    # crossbox its interpreter already has (the development venv's editable one).
    python = tmp_path / "venv" / "bin" / "python"
    sh.run([sys.executable, "-m", "venv", str(python.parents[1])])
    env = {**os.environ, "PIP_NO_DEPS": "1", "PIP_QUIET": "1"}  # the dependencies are not under test here
    sh.run(["make", "install", f"PREFIX={prefix}", f"PYTHON={python}"], cwd=str(REPO), env=env, capture=False)
    for page in ("crossbox", "crossbox-create", "crossbox-completion"):
        assert (prefix / "share/man/man1" / f"{page}.1").is_file()
    found = sh.run(["man", "--manpath", str(prefix / "share/man"), "--where", "crossbox-create"]).stdout.strip()
    assert found == str(prefix / "share/man/man1/crossbox-create.1")
    assert (prefix / "share/bash-completion/completions/crossbox").is_file()
    assert (prefix / "share/zsh/site-functions/_crossbox").is_file()
    assert (prefix / "share/fish/vendor_completions.d/crossbox.fish").is_file()
    assert (prefix / "bin" / "crossbox").is_file()
    assert not (prefix / "bin" / "crossbox-guest").exists()

    # No shtab here: `crossbox completion` prints the scripts installed under its own prefix.
    (site,) = prefix.glob("lib/python3*/site-packages")
    outside = {"cwd": str(tmp_path), "env": {"PATH": PATH, "HOME": str(tmp_path), "PYTHONPATH": str(site)}}
    assert sh.run([str(python), "-c", "import shtab"], check=False, **outside).returncode != 0
    for shell, installed in (("bash", "share/bash-completion/completions/crossbox"),
                             ("zsh", "share/zsh/site-functions/_crossbox"),
                             ("fish", "share/fish/vendor_completions.d/crossbox.fish")):
        printed = sh.run([str(prefix / "bin" / "crossbox"), "completion", shell], **outside).stdout
        assert printed == (prefix / installed).read_text(), shell


# What Fedora's redhat-rpm-config and pyproject-rpm-macros define and Debian's rpm does not.
# Each stands in for the real macro so that `rpmspec -P` expands the whole spec; any other
# macro left unexpanded is a mistake in the spec.
FEDORA_MACROS = {
    "dist": ".fc42",
    "bash_completions_dir": "%{_datadir}/bash-completion/completions",
    "zsh_completions_dir": "%{_datadir}/zsh/site-functions",
    "fish_completions_dir": "%{_datadir}/fish/vendor_completions.d",
    "pyproject_buildrequires": "echo 'python3dist(setuptools) >= 64'",
    "pyproject_wheel": "%{__python3} -m pip wheel --no-deps --no-build-isolation --wheel-dir pyproject-wheeldir .",
    "pyproject_install": "%{__python3} -m pip install --no-deps --root %{buildroot} pyproject-wheeldir/*.whl",
    "pyproject_save_files(lL)": "echo %{buildroot}%{python3_sitelib}/%1 > %{pyproject_files}",
    "pyproject_files": "%{_builddir}/pyproject-files",
    "pyproject_check_import": "%{__python3} -c 'import crossbox.host.cli'",
    "python3_sitelib": "/usr/lib/python3.13/site-packages",
    "__python3": "/usr/bin/python3",
}
SPEC_KEYWORDS = {"description", "prep", "generate_buildrequires", "build", "install", "check", "files",
                 "changelog", "doc", "license"}


def test_the_rpm_spec_parses_with_fedoras_macros() -> None:
    spec = str(REPO / "packaging" / "crossbox.spec")
    defines = [arg for name, value in FEDORA_MACROS.items() for arg in ("--define", f"{name} {value}")]
    parsed = sh.run(["rpmspec", "-P", *defines, spec]).stdout
    left = {m for m in re.findall(r"%\{?\??([A-Za-z_]\w*)", parsed)} - SPEC_KEYWORDS
    assert not left, f"macros left unexpanded: {sorted(left)}"
    assert "Release:        1.fc42" in parsed
    assert "/usr/share/man/man1" in parsed and "/usr/share/fish/vendor_completions.d/crossbox.fish" in parsed

    def query(*what: str) -> list[str]:
        return sh.run(["rpmspec", "-q", *defines, *what, spec]).stdout.split("\n")

    assert query("--srpm", "--queryformat", "%{NAME} %{VERSION}\n")[0] == "crossbox 0.1.0"
    assert "podman" in query("--queryformat", "[%{REQUIRENAME}\n]")
    assert {"skopeo", "qemu-user-static"} <= set(query("--queryformat", "[%{RECOMMENDNAME}\n]"))
    assert query("--queryformat", "%{ARCH}\n")[0] == "noarch"

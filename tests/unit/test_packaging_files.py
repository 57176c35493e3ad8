"""packaging/: the generated man pages and completion scripts are current and complete,
and every packaging file names the same version."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from crossbox.host import parser
from crossbox.host.errors import Exit
from crossbox.shared.version import VERSION

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crossbox_packaging_generate", PACKAGING / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _generate()


def page_text(name: str) -> str:
    """A committed page with roff's escaped hyphens plain."""
    return (generate.MAN_DIR / name).read_text().replace("\\-", "-")


def help_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string that --help shows (the help texts' own words left out)."""
    found = set()
    for line in parser.format_help().splitlines():
        if line.startswith("  ") and line.strip().startswith("-"):
            found.update(OPTION.findall(line.strip().split("  ")[0]))
    found.discard("-h")
    found.discard("--help")
    return found


def test_generated_files_are_current() -> None:
    stale = generate.stale(generate.expected())
    assert not stale, (f"stale generated files {[str(p.relative_to(REPO)) for p in stale]}: "
                       "run `make man completions` and commit the result")


def test_every_public_command_has_a_page_and_no_page_is_left_over() -> None:
    pages = {p.name for p in generate.MAN_DIR.glob("*.1")}
    verbs = generate.commands(parser.build_parser())
    assert pages == {"crossbox.1", *(f"crossbox-{v}.1" for v in verbs)}
    assert set(verbs) == {"create", "enter", "run", "list", "rm", "rmi", "doctor", "completion", "stop", "help"}


def test_every_option_in_help_is_in_the_man_page() -> None:
    p = parser.build_parser()
    top = help_options(p)
    assert {"--log-level", "--log-format", "-y", "--assumeyes", "--version"} <= top
    crossbox_1 = page_text("crossbox.1")
    for option in top:
        assert re.search(rf"\\fB{re.escape(option)}\\fR", crossbox_1), f"{option} missing from crossbox(1)"
    for verb, (sub, _) in generate.commands(p).items():
        text = page_text(f"crossbox-{verb}.1")
        for option in help_options(sub):
            assert re.search(rf"\\fB{re.escape(option)}\\fR", text), f"{option} missing from crossbox-{verb}(1)"
            assert option in crossbox_1


def test_crossbox_1_lists_every_exit_status() -> None:
    text = page_text("crossbox.1")
    section = text.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
    rows = set(re.findall(r"^\.B (\d+)$", section, re.M))
    for name, status in Exit.all().items():
        if status < 100:  # crossbox's own statuses each have a row
            assert str(status) in rows, name
        else:  # signals and run's Toolbx statuses are named in the text
            assert re.search(rf"\b{status}\b", section), name


def test_crossbox_1_names_every_environment_variable_crossbox_reads() -> None:
    from crossbox.host import settings
    from crossbox.host.tools.exec_args import PASSED_ENV
    from crossbox.shared.paths import SESSION_VAR

    section = page_text("crossbox.1").split(".SH ENVIRONMENT", 1)[1].split(".SH ", 1)[0]
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", section))
    read = {s.env for s in settings.documented()} | set(PASSED_ENV) | {
        "HOME",  # identity.py
        "PATH",  # tools/runner.py which(), emulator.py
        "COLUMNS",  # parser.py, the width of --help
        "DBUS_SYSTEM_BUS_ADDRESS",  # tools/create_args.py
        SESSION_VAR,  # set for sessions, read back by the agent from /proc
    }
    assert not read - named, f"missing from crossbox(1) ENVIRONMENT: {sorted(read - named)}"
    assert "\n.B container\n" in section  # guest/safety.py; set by podman (the word is common prose)


@pytest.mark.parametrize("page", sorted(p.name for p in generate.MAN_DIR.glob("*.1")))
def test_man_page_renders_without_warnings(page: str) -> None:
    done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(generate.MAN_DIR / page)],
                          capture_output=True, text=True, check=False, env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_completion_scripts_are_what_the_completion_verb_prints() -> None:
    from crossbox.host.commands.completion import script

    for shell, name in generate.COMPLETION_FILES.items():
        assert (generate.COMPLETION_DIR / name).read_text() == script(shell)


def test_every_packaging_file_names_the_same_version() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == VERSION
    changelog = (PACKAGING / "debian" / "changelog").read_text().splitlines()[0]
    assert re.match(rf"crossbox \({re.escape(VERSION)}(-\d+)?\) ", changelog), changelog
    spec = (PACKAGING / "crossbox.spec").read_text()
    assert re.search(rf"^Version:\s+{re.escape(VERSION)}$", spec, re.M)
    assert re.search(rf"^\* .* - {re.escape(VERSION)}-1$", spec, re.M)


def test_debian_package_depends_and_recommends_what_the_host_needs() -> None:
    control = (PACKAGING / "debian" / "control").read_text()
    fields = dict(re.findall(r"^([A-Z][\w-]*):\s*((?:.*\n)(?:[ \t].*\n)*)", control, re.M))
    depends = {d.strip().split()[0] for d in fields["Depends"].split(",")}
    assert {"podman", "python3-pyelftools", "python3-structlog"} <= depends
    assert "python3-shtab" not in depends  # optional: `crossbox completion` prints the installed scripts
    assert {d.strip() for d in fields["Recommends"].split(",")} == {"skopeo", "qemu-user-static", "python3-shtab"}


def test_shtab_is_an_optional_extra_and_the_agent_is_no_console_script() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = config["project"]
    assert not any(d.startswith("shtab") for d in project["dependencies"])
    assert project["optional-dependencies"]["completion"] == ["shtab>=1.5"]
    # One program, crossbox's own launcher (no generated entry-point script).
    assert "scripts" not in project and "gui-scripts" not in project
    assert config["tool"]["setuptools"]["script-files"] == ["packaging/bin/crossbox"]
    assert "crossbox-guest" not in (PACKAGING / "crossbox.spec").read_text()


def test_the_launcher_runs_the_cli_entry_and_imports_nothing_else() -> None:
    import ast

    launcher = PACKAGING / "bin" / "crossbox"
    text = launcher.read_text()
    assert text.startswith("#!/usr/bin/python3\n")  # setuptools and the installers rewrite a python line
    assert launcher.stat().st_mode & 0o111
    body = ast.parse(text).body
    assert [ast.unparse(node) for node in body] == ["from crossbox.host.cli import entry", "entry()"]


def test_debian_copyright_is_machine_readable_with_a_notice_and_the_common_license() -> None:
    text = (PACKAGING / "debian" / "copyright").read_text()
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    assert paragraphs[0].startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
    files = next(p for p in paragraphs if p.startswith("Files: *\n"))
    assert re.search(r"^Copyright: \d{4} crossbox developers$", files, re.M)
    assert re.search(r"^License: Apache-2.0$", files, re.M)
    assert "/usr/share/common-licenses/Apache-2.0" in text


def test_debian_autopkgtest_runs_the_smoke_script() -> None:
    tests = PACKAGING / "debian" / "tests"
    control = (tests / "control").read_text()
    assert re.search(r"^Tests: smoke$", control, re.M)
    assert re.search(r"^Depends: @$", control, re.M)
    assert "allow-stderr" in control
    smoke = tests / "smoke"
    assert smoke.read_text().startswith("#!/bin/sh\n") and os.access(smoke, os.X_OK)
    subprocess.run(["sh", "-n", str(smoke)], check=True)


def test_rpm_spec_requires_podman_and_recommends_skopeo_qemu_and_shtab() -> None:
    spec = (PACKAGING / "crossbox.spec").read_text()
    assert re.findall(r"^Requires:\s+(\S+)", spec, re.M) == ["podman"]
    assert re.findall(r"^Recommends:\s+(\S+)", spec, re.M) == ["skopeo", "qemu-user-static", "python3-shtab"]
    for macro in ("%pyproject_wheel", "%pyproject_install", "%pyproject_buildrequires", "%pyproject_save_files"):
        assert macro in spec

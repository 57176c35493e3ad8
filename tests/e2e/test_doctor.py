"""crossbox doctor on the real host: what issue 'Foundation' names as done."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bed.bed import Bed


def test_doctor_passes_for_arm64_ppc64le_s390x(bed: Bed) -> None:
    done = bed.crossbox(["doctor", "--arch", "arm64", "--arch", "ppc64le", "--arch", "s390x"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    assert "crossbox is ready for aarch64, ppc64le, s390x" in done.stdout


def test_doctor_json_is_stable_and_passes_rootless(bed: Bed) -> None:
    done = bed.crossbox(["doctor", "--arch", "arm64", "--format", "json"], rootless=True)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["schema"] == 1 and data["ok"] is True and data["asked"] == ["aarch64"]
    names = {c["name"] for c in data["checks"]}
    assert {"kernel", "binfmt_misc", "user namespaces", "subordinate ids", "podman", "skopeo",
            "emulator aarch64", "host binfmt_misc"} <= names
    subids = next(c for c in data["checks"] if c["name"] == "subordinate ids")
    assert "tester" in subids["message"]


def test_doctor_refuses_an_unknown_architecture_naming_the_supported_ones(bed: Bed) -> None:
    done = bed.crossbox(["doctor", "--arch", "sparc9"])
    assert done.returncode == 3
    assert "'sparc9' is not a supported architecture" in done.stderr
    for name in ("aarch64 (arm64)", "ppc64le", "s390x", "riscv64", "loongarch64 (loong64)"):
        assert name in done.stderr
    assert "Traceback" not in done.stderr


def test_doctor_refuses_a_script_posing_as_qemu(bed: Bed, tmp_path: Path) -> None:
    fake = tmp_path / "qemu-aarch64-static"
    fake.write_text('#!/bin/sh\nexec /usr/bin/qemu-aarch64-static "$@"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    done = bed.crossbox(["doctor", "--arch", "arm64"], env=env)
    assert done.returncode == 1
    assert f"qemu-aarch64-static at {fake} is not a statically linked ELF executable: it is a script" in done.stdout
    assert "fix: install it with `apt-get install qemu-user-static`" in done.stdout


def test_create_with_a_dynamic_qemu_fails_before_pulling_and_points_to_doctor(bed: Bed, tmp_path: Path) -> None:
    fake = tmp_path / "qemu-s390x-static"
    fake.symlink_to("/usr/bin/podman")  # a real, dynamically linked x86_64 ELF executable
    env = {"PATH": f"{tmp_path}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    done = bed.crossbox(["-y", "create", "--arch", "s390x", "-i", bed.images["bb-s390x"], "cbt-dynamic-qemu"],
                        env=env)
    assert done.returncode == 4
    assert "is dynamically linked" in done.stderr
    assert "run `crossbox doctor --arch s390x` for details" in done.stderr
    assert bed.podman(["image", "exists", f"{bed.images['bb-s390x']}-s390x"]).returncode == 1
    assert bed.podman(["container", "exists", "cbt-dynamic-qemu"]).returncode == 1


def test_doctor_colours_a_terminal_only_and_never_with_no_color(bed: Bed) -> None:
    from bed.terminal import Terminal

    for no_color, expect_colour in (("", True), ("1", False)):
        env = bed.root_env({"TERM": "xterm", **({"NO_COLOR": no_color} if no_color else {})})
        if not no_color:
            env.pop("NO_COLOR", None)
        term = Terminal(bed.crossbox_argv(["doctor", "--arch", "arm64"]), env)
        try:
            assert term.wait() == 0
        finally:
            term.close()
        assert ("\x1b[" in term.text) == expect_colour, term.text
    piped = bed.crossbox(["doctor", "--arch", "arm64"])
    assert "\x1b[" not in piped.stdout

"""Host logging: quiet and structlog-free by default, console or JSON lines when asked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from crossbox.host import log


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


def test_default_level_prints_nothing_below_warning_and_never_imports_structlog() -> None:
    done = _run("import sys\nfrom crossbox.host import log\nlog.configure()\nlog.debug('x')\nlog.info('y')\n"
                "print('structlog' in sys.modules)")
    assert done.stdout.strip() == "False"
    assert done.stderr == ""


def test_json_format_prints_one_json_object_per_line() -> None:
    done = _run("from crossbox.host import log\nlog.configure('debug', 'json')\n"
                "log.debug('step one', name='box')\nlog.warning('step two', n=2)")
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "step one" and first["name"] == "box" and first["level"] == "debug"
    assert second["event"] == "step two" and second["n"] == 2 and second["level"] == "warning"


def test_console_format_is_readable_key_value_lines() -> None:
    done = _run("from crossbox.host import log\nlog.configure('info', 'console')\nlog.info('pulled', image='a:b')")
    assert "pulled" in done.stderr and "image=a:b" in done.stderr
    assert "\x1b[" not in done.stderr


@pytest.mark.parametrize(("level", "shown"), [("debug", True), ("info", False), ("warning", False)])
def test_enabled_follows_the_configured_level(level: str, shown: bool) -> None:
    log.configure(level)
    try:
        assert log.enabled("debug") is shown
        assert log.enabled("error") is True
    finally:
        log.configure()

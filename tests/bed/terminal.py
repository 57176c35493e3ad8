"""Drive a program through a real pseudo-terminal (a tiny expect)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence


class Terminal:
    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
                 cwd: str | None = None) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave,
                                     env=dict(env) if env is not None else None, cwd=cwd,
                                     start_new_session=True)
        os.close(slave)
        self.output = b""

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            return False
        if not chunk:
            return False
        self.output += chunk
        return True

    def expect(self, pattern: str, timeout: float = 60) -> str:
        """Wait until the output matches; return the text so far."""
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if regex.search(self.output):
                return self.text
            if not self._read(0.1):
                break
        if regex.search(self.output):
            return self.text
        raise AssertionError(f"no {pattern!r} in terminal output: {self.text!r}")

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while self._read(0.05):
            if not select.select([self.master], [], [], 0)[0]:
                break
        if self.proc.poll() is None:
            self.proc.kill()
            raise AssertionError(f"still running after {timeout} s: {self.text!r}")
        return self.proc.returncode

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)

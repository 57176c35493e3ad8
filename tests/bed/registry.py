"""A real registry (Debian's docker-registry, the CNCF distribution) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.registries_conf = workdir / "registries.conf"

    def start(self) -> Registry:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        config = self.workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n"
            "storage:\n  filesystem:\n    rootdirectory: " + str(self.workdir / "data") + "\n"
            "  delete:\n    enabled: true\n"
            "http:\n  addr: " + self.address + "\n"
        )
        self.write_registries_conf([self.address])
        self.log = open(self.workdir / "registry.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(["docker-registry", "serve", str(config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1).read()
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {(self.workdir / 'registry.log').read_text()}")
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not answer within 20 s")

    def write_registries_conf(self, insecure: list[str]) -> None:
        text = "".join(f'[[registry]]\nlocation = "{a}"\ninsecure = true\n\n' for a in insecure)
        self.registries_conf.write_text(text)
        self.registries_conf.chmod(0o644)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        with contextlib.suppress(Exception):
            self.log.close()

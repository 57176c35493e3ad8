"""Running commands for the test bed (not the product's runner: the bed is test code)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def run(argv: Sequence[str], *, check: bool = True, capture: bool = True, cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None, input: str | None = None, timeout: float | None = 600,
        stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    if capture and stdout is None:
        out: int | None = subprocess.PIPE
    else:
        out = stdout
    done = subprocess.run(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                          stdout=out, stderr=subprocess.PIPE if capture else None, text=True,
                          input=input, timeout=timeout, check=False)
    if check and done.returncode != 0:
        sys.stderr.write(done.stderr or "")
        raise RuntimeError(f"{shlex.join(argv)} failed with {done.returncode}: {(done.stderr or '').strip()[-2000:]}")
    return done

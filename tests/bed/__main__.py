"""python -m bed build | demo

build: build (or verify the cache of) every test image.
demo:  the README's main job: serve a built-in multi-arch demo image on a loopback
       registry, create an arm64 crossbox container from it, print `uname -m` from
       inside, and remove everything again.
"""

from __future__ import annotations

import shlex
import sys

from . import images
from .bed import Bed, new_workdir

DEMO_CONTAINER = "crossbox-demo"


def demo() -> int:
    bed = Bed(new_workdir())
    try:
        print("crossbox demo: building the demo images from Debian's busybox-static packages ...")
        bed.start(with_debian=False, with_tester=False)
        image = bed.images["multi"]
        print(f"crossbox demo: serving {image} (amd64, arm64, ppc64le) on a loopback registry")
        bed.crossbox(["rm", "--force", DEMO_CONTAINER])
        for args in (["-y", "create", "--arch", "arm64", "--image", image, DEMO_CONTAINER],
                     ["run", "-c", DEMO_CONTAINER, "uname", "-m"]):
            print(f"$ crossbox {shlex.join(args)}", flush=True)
            done = bed.crossbox(args)
            sys.stdout.write(done.stdout)
            sys.stderr.write(done.stderr)
            if done.returncode != 0:
                print(f"crossbox demo: failed with status {done.returncode}", file=sys.stderr)
                return 1
        return 0
    finally:
        bed.crossbox(["rm", "--force", DEMO_CONTAINER])
        bed.stop()


def main(argv: list[str]) -> int:
    if argv[:1] == ["build"]:
        for name, path in images.ensure_all().items():
            print(f"{name}: {path}")
        return 0
    if argv[:1] == ["demo"]:
        return demo()
    sys.stderr.write("usage: python -m bed build|demo\n")
    return 2


sys.exit(main(sys.argv[1:]))

"""crossbox enter: the user's login shell in a container (a `run` of it, as in Toolbx)."""

from __future__ import annotations

import argparse

from .run import SessionRequest, enter_or_run


def main(args: argparse.Namespace) -> int:
    return enter_or_run(SessionRequest(container=args.container, arch=args.arch, distro=args.distro,
                                       release=args.release,
                                       assume_yes=bool(getattr(args, "assumeyes", False)),
                                       log_level=args.log_level))

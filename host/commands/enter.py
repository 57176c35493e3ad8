"""crossbox enter: the user's login shell in a container (a `run` of it, as in Toolbx)."""

from __future__ import annotations

import argparse

from . import named_container
from .run import SessionRequest, enter_or_run


def main(args: argparse.Namespace) -> int:
    name = named_container(args)
    return enter_or_run(SessionRequest(container=name, arch=args.arch, distro=args.distro,
                                       release=args.release,
                                       assume_yes=bool(getattr(args, "assumeyes", False)),
                                       log_level=args.log_level))

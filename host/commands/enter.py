"""crossbox enter: the user's login shell in a container (a `run` of it, as in Toolbx)."""

from __future__ import annotations

import argparse

from ..errors import UsageError
from .run import SessionRequest, enter_or_run


def main(args: argparse.Namespace) -> int:
    name = args.container
    if args.container_option is not None:
        if name is not None and name != args.container_option:
            raise UsageError(f"two containers were named, {args.container_option} (-c) and {name}",
                             "name one, as CONTAINER or with -c/--container")
        name = args.container_option
    return enter_or_run(SessionRequest(container=name, arch=args.arch, distro=args.distro,
                                       release=args.release,
                                       assume_yes=bool(getattr(args, "assumeyes", False)),
                                       log_level=args.log_level))

"""Refusals that keep the agent from touching the host."""

from __future__ import annotations

import os

from crossbox.shared.binfmt import is_initial_user_namespace


class GuestError(Exception):
    """An expected failure; its message is the one line the host shows."""


def in_container(containerenv: str = "/run/.containerenv", environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return os.path.exists(containerenv) or bool(env.get("container"))


def check_in_container(containerenv: str = "/run/.containerenv") -> None:
    if not in_container(containerenv):
        raise GuestError(
            "crossbox-guest is a container entrypoint and refuses to run outside a container"
        )


def check_own_user_namespace(uid_map_path: str = "/proc/self/uid_map") -> None:
    try:
        with open(uid_map_path, encoding="ascii") as f:
            uid_map = f.read()
    except OSError as exc:
        raise GuestError(f"cannot read {uid_map_path}: {exc.strerror}") from None
    if is_initial_user_namespace(uid_map):
        raise GuestError(
            "refusing to mount binfmt_misc: this container shares the host's user namespace, "
            "so the mount would be the host's; create it with crossbox (own user namespace)"
        )

"""What the host launcher and the guest agent agree on: paths, labels (shared.paths), the agent's argv.

Stdlib only: the guest imports this inside foreign images. Bump CONTRACT_VERSION
whenever a change here means old containers must be recreated.
"""

from __future__ import annotations

from crossbox.shared.records import NamedTuple

from .paths import *  # noqa: F403  (the contract's names, re-exported)
from .paths import CONTRACT_VERSION, EMULATOR_DIR, MODE_INIT, MODE_ONESHOT


def emulator_path(file_name: str) -> str:
    return f"{EMULATOR_DIR}/{file_name}"


class ContractError(ValueError):
    """The agent was started with arguments it does not understand."""


class User(NamedTuple):
    name: str
    uid: int
    gid: int
    home: str
    shell: str

    def encode(self) -> str:
        for part in (self.name, self.home, self.shell):
            if ":" in part or "\n" in part:
                raise ContractError(f"user field {part!r} holds ':' or a newline")
        return f"{self.name}:{self.uid}:{self.gid}:{self.home}:{self.shell}"

    @classmethod
    def decode(cls, text: str) -> User:
        parts = text.split(":")
        if len(parts) != 5:
            raise ContractError(f"user {text!r} is not name:uid:gid:home:shell")
        name, uid, gid, home, shell = parts
        try:
            return cls(name, int(uid), int(gid), home, shell)
        except ValueError:
            raise ContractError(f"user {text!r} has a uid or gid that is no number") from None


class GuestSpec(NamedTuple):
    """Everything the agent is told; carried in the container's command line."""

    mode: str
    container: str
    arch: str  # canonical architecture name of the image
    emulator: str | None  # path inside the container; None for a native container
    user: User
    workdir: str | None = None  # one-shot only
    command: tuple[str, ...] = ()  # one-shot only
    log_level: str = "warning"
    contract: str = CONTRACT_VERSION
    # The image's variables that crossbox unset for the agent's own start (LD_PRELOAD ...):
    # the agent gives them back to the user's sessions.
    held_env: tuple[tuple[str, str], ...] = ()
    masked_preload: bool = False  # /etc/ld.so.preload is masked while the agent starts
    native_libpath: str = ""  # --native-tools: the host's library directories inside (else "")
    image: str = ""  # one-shot: the image asked for, to name in messages (else "")

    def to_argv(self) -> list[str]:
        argv = [
            self.mode,
            "--contract",
            self.contract,
            "--container",
            self.container,
            "--arch",
            self.arch,
            "--user",
            self.user.encode(),
            "--log-level",
            self.log_level,
        ]
        if self.emulator:
            argv += ["--emulator", self.emulator]
        if self.image:
            argv += ["--image", self.image]
        if self.workdir:
            argv += ["--workdir", self.workdir]
        for name, value in self.held_env:
            argv += ["--held-env", f"{name}={value}"]
        if self.masked_preload:
            argv += ["--masked-preload", "1"]
        if self.native_libpath:
            argv += ["--native-libpath", self.native_libpath]
        if self.command:
            argv += ["--", *self.command]
        return argv

    @classmethod
    def from_argv(cls, argv: list[str]) -> GuestSpec:
        if not argv or argv[0] not in (MODE_INIT, MODE_ONESHOT):
            raise ContractError(f"the first argument must be {MODE_INIT} or {MODE_ONESHOT}")
        mode = argv[0]
        values: dict[str, str] = {}
        held: list[tuple[str, str]] = []
        command: tuple[str, ...] = ()
        keys = {"--contract", "--container", "--arch", "--user", "--log-level", "--emulator",
                "--workdir", "--held-env", "--masked-preload", "--native-libpath", "--image"}
        i = 1
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                command = tuple(argv[i + 1 :])
                break
            if arg not in keys or i + 1 >= len(argv):
                raise ContractError(f"unexpected agent argument {arg!r}")
            if arg == "--held-env":
                name, sep, value = argv[i + 1].partition("=")
                if not sep or not name:
                    raise ContractError(f"--held-env {argv[i + 1]!r} is not NAME=VALUE")
                held.append((name, value))
            else:
                values[arg[2:]] = argv[i + 1]
            i += 2
        missing = [k for k in ("contract", "container", "arch", "user") if k not in values]
        if missing:
            raise ContractError(f"agent arguments lack --{', --'.join(missing)}")
        if values["contract"] != CONTRACT_VERSION:
            raise ContractError(
                f"this container was made for agent contract {values['contract']}, "
                f"but this crossbox speaks {CONTRACT_VERSION}; recreate the container"
            )
        if mode == MODE_ONESHOT and not command:
            raise ContractError("one-shot mode needs a command after --")
        return cls(
            mode=mode,
            container=values["container"],
            arch=values["arch"],
            emulator=values.get("emulator"),
            user=User.decode(values["user"]),
            workdir=values.get("workdir"),
            command=command,
            log_level=values.get("log-level", "warning"),
            contract=values["contract"],
            held_env=tuple(held),
            masked_preload=values.get("masked-preload") == "1",
            native_libpath=values.get("native-libpath", ""),
            image=values.get("image", ""),
        )

    def replace(self, **changes: object) -> GuestSpec:
        return self._replace(**changes)  # type: ignore[arg-type]

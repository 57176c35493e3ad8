"""Write the generated files of packaging/: the man pages and the shell completion scripts.

Both come from the one argparse definition, `crossbox.host.parser.build_parser()`:
the man pages through argparse-manpage plus the written sections in
`man/include/PAGE.include` (argparse-manpage's include format), the completion
scripts through `crossbox.host.commands.completion` (shtab), exactly as
`crossbox completion SHELL` prints them. They are committed, so that the
Debian and RPM builds need neither library; a unit test fails when they are
stale. Do not edit them by hand:

    python packaging/generate.py            write them (`make man completions`)
    python packaging/generate.py --check    list the stale ones, exit 1 if any
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAN_DIR = HERE / "man" / "man1"
INCLUDE_DIR = HERE / "man" / "include"
COMPLETION_DIR = HERE / "completion"
CHANGELOG = HERE / "debian" / "changelog"
COMPLETION_FILES = {"bash": "crossbox.bash", "zsh": "_crossbox", "fish": "crossbox.fish"}
SUMMARY = "foreign-architecture toolbox containers"
# argparse wraps usage and help to the terminal: the pages must not depend on it, and roff
# fills the text itself (a wrapped line starting with "..." would read as a macro).
WIDTH = "1000"


def release_date() -> str:
    """The date of the newest Debian changelog entry: pages change with releases, not days."""
    for line in CHANGELOG.read_text(encoding="utf-8").splitlines():
        if line.startswith(" -- "):
            when = email.utils.parsedate_to_datetime(line.split(">", 1)[1].strip())
            return when.date().isoformat()
    raise ValueError(f"{CHANGELOG} has no trailer line")


def _roff(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("-", "\\-")
    return re.sub(r"``([^`]+)``|`([^`]+)`", lambda m: f"\\fB{m.group(1) or m.group(2)}\\fR", text)


def exit_status_roff() -> str:
    """The exit statuses (crossbox.host.errors.EXIT_STATUSES and RUN_STATUSES) as a roff list."""
    from crossbox.host import errors

    out = []
    for statuses, meaning in errors.EXIT_STATUSES:
        out += [".TP", f".B {', '.join(str(int(s)) for s in statuses)}", _roff(meaning)]
    run = "; ".join(f"{', '.join(str(int(s)) for s in statuses)} when {meaning}"
                    for statuses, meaning in errors.RUN_STATUSES)
    out += [".PP", _roff(f"``run`` and ``enter`` follow Toolbx instead: the command's own status; {run}.")]
    return "\n".join(out)


def environment_roff() -> str:
    """The environment variables crossbox reads (crossbox.host.settings.SETTINGS) as a roff list."""
    from crossbox.host import settings

    out = []
    for setting in settings.documented():
        out += [".TP", f".B {setting.env}", _roff(setting.help[0].upper() + setting.help[1:] + ".")]
    return "\n".join(out)


@contextlib.contextmanager
def _fixed_width() -> Iterator[None]:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def commands(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """The public commands (those --help lists), with their one-line help."""
    sub = _subparsers(parser)
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    return {name: (p, helps[name]) for name, p in sub.choices.items() if name in helps}


def _page(parser: argparse.ArgumentParser, name: str, summary: str, version: str, date: str) -> str:
    from argparse_manpage.manpage import Manpage

    data = {"project_name": "crossbox", "version": version, "date": date,
            "manual_title": "crossbox manual", "description": summary}
    include = INCLUDE_DIR / f"{name}.include"
    if include.exists():
        data["include"] = str(include)
    page = Manpage(parser, data, format="single-commands-section")
    page.prog = name
    if " " in parser.prog:  # `crossbox create`: the synopsis names the whole command
        usage = parser.format_usage().split(":", 1)[-1].split()
        page.synopsis = [" ".join(usage[:2]), *usage[2:]]
    if name == "crossbox":
        page.add_section("exit status", ">", "\n" + exit_status_roff())
        page.add_section("environment", ">", "\n" + environment_roff())
    return str(page)


def man_pages() -> dict[str, str]:
    """crossbox.1 and crossbox-COMMAND.1 for each public command, by file name."""
    from crossbox.host.parser import build_parser
    from crossbox.shared.version import VERSION

    date = release_date()
    with _fixed_width():
        top = build_parser()
        # In crossbox(1) the commands come after the global options, under COMMANDS.
        group = next(g for g in top._action_groups if _subparsers(top) in g._group_actions)
        group.title = "commands"
        top._action_groups.remove(group)
        top._action_groups.append(group)
        pages = {"crossbox.1": _page(top, "crossbox", SUMMARY, VERSION, date)}
        for verb, (sub, help_text) in commands(build_parser()).items():
            pages[f"crossbox-{verb}.1"] = _page(sub, f"crossbox-{verb}", help_text, VERSION, date)
    return pages


def completion_scripts() -> dict[str, str]:
    from crossbox.host.commands.completion import script

    return {COMPLETION_FILES[shell]: script(shell) for shell in COMPLETION_FILES}


def expected() -> dict[Path, str]:
    out = {MAN_DIR / name: text for name, text in man_pages().items()}
    out.update({COMPLETION_DIR / name: text for name, text in completion_scripts().items()})
    return out


def stale(files: dict[Path, str]) -> list[Path]:
    """Files that differ from what would be generated, or are missing; and generated ones left over."""
    out = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    for directory in {p.parent for p in files}:
        out += [p for p in sorted(directory.iterdir()) if p.is_file() and p not in files]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    ap.add_argument("--only", choices=["man", "completions"], help="only the man pages, or only the scripts")
    args = ap.parse_args(argv)
    files = expected()
    if args.only:
        keep = MAN_DIR if args.only == "man" else COMPLETION_DIR
        files = {p: t for p, t in files.items() if p.parent == keep}
    if args.check:
        bad = stale(files)
        for path in bad:
            print(f"stale: {path.relative_to(HERE.parent)}", file=sys.stderr)
        return 1 if bad else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent)}")
    for path in stale(files):
        if path not in files:
            path.unlink()
            print(f"removed {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shell completion for bash, zsh and fish, written by shtab from the one argparse definition.

shtab is imported here only, when `crossbox completion SHELL` runs: the script
is derived from `parser.build_parser()` each time, so it never drifts from the
options. shtab is optional (the extra "completion"; fish needs shtab 1.9,
Debian 12 has 1.5.5): without a shtab that writes the shell's script, the verb
prints the script the packages install under crossbox's own prefix (the same
text, generated from the same definition at release: packaging/generate.py),
and fails in one sentence (exit 4) only when there is none.
What an argument completes to is decided by its destination
(`COMPLETES`), so that `build_parser()` stays free of shell code:

- architectures: the canonical and OCI names of the shared table, written
  into the script when it is generated (no process at tab time);
- containers and images: the script runs `crossbox list --names containers`
  (or `images`), the hidden helper of `list`, which uses the same lookup as
  `crossbox list` (`commands/list.py: names()`);
- files, for `--authfile`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crossbox.shared.arch import ARCHITECTURES

from ..errors import HostNotReady

SHELLS = ("bash", "zsh", "fish")
NAME_KINDS = ("containers", "images")

# By argument destination in build_parser(); every other argument completes nothing special.
COMPLETES = {
    "arch": "arches",
    "container": "containers",
    "container_option": "containers",
    "containers": "containers",
    "image": "images",
    "images": "images",
    "authfile": "file",
}
# Arguments that take a new name, not an existing one: (verb, destination).
NEW_NAMES = {("create", "container"), ("create", "container_option")}

# Where the packages install the generated scripts, under their prefix: debian/rules,
# crossbox.spec and `make install` (zsh: Debian's vendor directory, else site-functions).
INSTALLED = {
    "bash": ("share/bash-completion/completions/crossbox",),
    "zsh": ("share/zsh/vendor-completions/_crossbox", "share/zsh/site-functions/_crossbox"),
    "fish": ("share/fish/vendor_completions.d/crossbox.fish",),
}


def arch_words() -> list[str]:
    """What `--arch` completes to: each architecture's canonical and OCI name."""
    return list(dict.fromkeys(w for a in ARCHITECTURES for w in (a.name, a.oci)))


def kind_of(verb: str | None, action: argparse.Action) -> str | None:
    if action.nargs == 0 or action.help == argparse.SUPPRESS or (verb, action.dest) in NEW_NAMES:
        return None  # a flag (list --containers), hidden, or a new name
    return COMPLETES.get(action.dest)


def _shell_code(file_completer: dict[str, str]) -> dict[str, dict[str, str]]:
    """shtab's `.complete` values, per kind: what each shell calls or lists."""
    words = " ".join(arch_words())
    return {
        "arches": {"bash": "_crossbox_arches", "zsh": f"({words})", "fish": words},
        "containers": {"bash": "_crossbox_containers", "zsh": "_crossbox_containers",
                       "fish": "(crossbox list --names containers 2>/dev/null)"},
        "images": {"bash": "_crossbox_images", "zsh": "_crossbox_images",
                   "fish": "(crossbox list --names images 2>/dev/null)"},
        "file": file_completer,
    }


def preamble(shell: str) -> str:
    """Shell functions the completers above call."""
    if shell == "bash":
        return f"""\
_crossbox_arches() {{
  compgen -W "{" ".join(arch_words())}" -- "$1"
}}

# $1 is the word being completed. Image references contain ':', where bash splits
# words (COMP_WORDBREAKS), so match the whole reference typed so far and hand back
# the part after its last ':', as bash-completion's __ltrim_colon_completions does.
_crossbox_names() {{
  local kind=$1 cur=$2
  if [[ -n ${{COMP_LINE-}} && $COMP_WORDBREAKS == *:* ]]; then
    local typed=${{COMP_LINE:0:${{COMP_POINT:-${{#COMP_LINE}}}}}}
    typed=${{typed##*[[:space:]]}}
    if [[ $typed == *:* && $typed == *"$cur" ]]; then
      local drop=${{typed%"${{typed##*:}}"}} name
      compgen -W "$(crossbox list --names "$kind" 2>/dev/null)" -- "$typed" |
        while IFS= read -r name; do printf '%s\\n' "${{name#"$drop"}}"; done
      return
    fi
  fi
  compgen -W "$(crossbox list --names "$kind" 2>/dev/null)" -- "$cur"
}}

_crossbox_containers() {{
  _crossbox_names containers "$1"
}}

_crossbox_images() {{
  _crossbox_names images "$1"
}}"""
    if shell == "zsh":
        return """\
_crossbox_containers() {
  local -a names
  names=(${(f)"$(crossbox list --names containers 2>/dev/null)"})
  compadd -a names
}

_crossbox_images() {
  local -a names
  names=(${(f)"$(crossbox list --names images 2>/dev/null)"})
  compadd -a names
}"""
    return ""


def _tag(parser: argparse.ArgumentParser, code: dict[str, dict[str, str]], verb: str | None = None) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                _tag(sub, code, name)
            continue
        kind = kind_of(verb, action)
        if kind is not None:
            action.complete = code[kind]  # type: ignore[attr-defined]  # shtab reads this attribute


class NoShtab(HostNotReady):
    """No shtab, or one too old for the shell."""


def script(shell: str, parser: argparse.ArgumentParser | None = None) -> str:
    """The completion script for `shell`, from `parser` (default: the crossbox parser)."""
    try:
        import shtab
    except ImportError:
        raise NoShtab(f"shtab is not installed, so crossbox cannot write {shell} completion",
                      "install shtab (pip install 'crossbox[completion]', or python3-shtab)") from None

    if shell not in shtab.SUPPORTED_SHELLS:
        version = getattr(shtab, "__version__", "?")
        raise NoShtab(f"shtab {version} cannot write {shell} completion",
                      f"{shell} needs shtab >= 1.9; the crossbox packages also install the "
                      "completion scripts where each shell finds them")
    if parser is None:
        from ..parser import build_parser

        parser = build_parser()
    files = {name: str(shtab.FILE.get(name, "")) for name in SHELLS}  # shtab's own file completion
    _tag(parser, _shell_code(files))
    text: str = shtab.complete(parser, shell, preamble=preamble(shell))
    return text if text.endswith("\n") else text + "\n"


def install_prefix(module: str = __file__) -> Path | None:
    """The prefix crossbox is installed under: /usr for /usr/lib/python3/dist-packages/crossbox/...;
    None for a tree that is not installed under a lib directory."""
    for parent in Path(module).resolve().parents:
        if parent.name in ("lib", "lib64"):
            return parent.parent
    return None


def installed_script(shell: str, prefix: Path | None) -> str | None:
    """The script a package installed for `shell` under `prefix`, if there is one."""
    if prefix is None:
        return None
    for relative in INSTALLED[shell]:
        try:
            return (prefix / relative).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
    return None


def main(args: argparse.Namespace) -> int:
    try:
        text = script(args.shell)
    except NoShtab as exc:
        prefix = install_prefix()
        shipped = installed_script(args.shell, prefix)
        if shipped is None:
            where = f" under {prefix}" if prefix is not None else ""
            raise NoShtab(f"{exc.message}, and no installed {args.shell} completion script was found{where}",
                          exc.hint) from None
        text = shipped
    sys.stdout.write(text)
    return 0

"""crossbox.host.settings: every environment setting declared once, read once, one rule for bad values."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from crossbox.host import settings
from crossbox.host.errors import InvalidInput

REPO = Path(__file__).resolve().parents[2]


def test_unset_and_empty_give_the_defaults() -> None:
    s = settings.Settings({"CROSSBOX_READY_TIMEOUT": ""})
    assert s.ready_timeout == 30.0
    assert s.registry_timeout is None
    assert s.guest_python is None
    assert s.no_cache is False
    assert s.no_color is False


def test_values_are_parsed() -> None:
    s = settings.Settings({"CROSSBOX_READY_TIMEOUT": "2.5", "CROSSBOX_REGISTRY_TIMEOUT": "90",
                           "CROSSBOX_NO_CACHE": "yes", "NO_COLOR": "0", "XDG_RUNTIME_DIR": "/run/user/7",
                           "CROSSBOX_GUEST_PYTHON": "/usr/bin/python3"})
    assert (s.ready_timeout, s.registry_timeout, s.no_cache, s.no_color) == (2.5, 90.0, True, True)
    assert (s.runtime_dir, s.guest_python) == ("/run/user/7", "/usr/bin/python3")


@pytest.mark.parametrize(("env", "value", "attr"), [
    ("CROSSBOX_READY_TIMEOUT", "nan", "ready_timeout"),
    ("CROSSBOX_READY_TIMEOUT", "inf", "ready_timeout"),
    ("CROSSBOX_READY_TIMEOUT", "-3", "ready_timeout"),
    ("CROSSBOX_REGISTRY_TIMEOUT", "soon", "registry_timeout"),
    ("CROSSBOX_NO_CACHE", "maybe", "no_cache"),
    ("CROSSBOX_GUEST_PYTHON", "python3", "guest_python"),
    ("XDG_RUNTIME_DIR", "run/user/1000", "runtime_dir"),
])
def test_a_bad_value_is_one_sentence_naming_the_variable_when_it_is_used(env: str, value: str, attr: str) -> None:
    s = settings.Settings({env: value})  # reading them all never fails ...
    assert s.ready_timeout if attr != "ready_timeout" else True
    with pytest.raises(InvalidInput) as err:  # ... the bad one fails where it is used
        getattr(s, attr)
    assert f"{env}={value!r} is invalid" in err.value.message
    assert "\n" not in err.value.message
    assert err.value.hint and env in err.value.hint


def test_an_unknown_attribute_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        settings.Settings({}).no_such_setting  # noqa: B018


def test_current_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSBOX_READY_TIMEOUT", "5")
    assert settings.current().ready_timeout == 5.0
    monkeypatch.setenv("CROSSBOX_READY_TIMEOUT", "7")
    assert settings.current().ready_timeout == 5.0
    settings.reset()
    assert settings.current().ready_timeout == 7.0


def test_each_setting_is_declared_once_and_documented() -> None:
    names = [s.env for s in settings.SETTINGS]
    assert len(names) == len(set(names))
    attrs = [s.attr for s in settings.SETTINGS]
    assert len(attrs) == len(set(attrs))
    for s in settings.SETTINGS:
        assert s.help and not s.help[0].isupper(), s.env
        assert s.attr in settings.Settings.__annotations__, s.env


def test_no_other_module_reads_these_variables_itself() -> None:
    """os.environ is read for settings only in settings.py (passing the environment on is not reading it)."""
    names = {s.env for s in settings.SETTINGS}

    def environ_key(node: ast.AST) -> object:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            owner = ast.unparse(node.func.value)
            if (owner, node.func.attr) in (("os.environ", "get"), ("os", "getenv")):
                return getattr(node.args[0], "value", None)
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            return getattr(node.slice, "value", None)
        return None

    for path in (REPO / "host").rglob("*.py"):
        if path.name == "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            assert environ_key(node) not in names, f"{path.relative_to(REPO)} reads {environ_key(node)}"

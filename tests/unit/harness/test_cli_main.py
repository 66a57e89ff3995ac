"""ttlock_hil.harness.cli: --version, and help texts as plain text (no docstring markup)."""

from __future__ import annotations

import argparse
import re
from importlib import metadata
from pathlib import Path

import pytest

from ttlock_hil.harness import version
from ttlock_hil.harness.cli import build_parser, main, plain_text

_MARKUP = re.compile(r"``|:(class|mod|func|meth|data|attr):`|\*\*")


def _all_parsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _all_parsers(child)
    return found


PARSERS = _all_parsers(build_parser())


def test_every_command_is_walked() -> None:
    names = {prog for prog, _ in PARSERS}
    assert {
        "ttlock-hil scan",
        "ttlock-hil lock",
        "ttlock-hil nightly",
        "ttlock-hil report diff",
    } <= names


@pytest.mark.parametrize(("prog", "parser"), PARSERS, ids=[p for p, _ in PARSERS])
def test_help_is_plain_text(prog: str, parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert not _MARKUP.search(text), f"{prog} --help shows markup: {_MARKUP.findall(text)}"


def test_plain_text_takes_out_roles_literals_and_bold() -> None:
    text = "See :class:`~a.b.Lock` and :func:`a.b.run`, ``--init`` and **not twice**::"
    assert plain_text(text) == "See Lock and a.b.run, --init and not twice:"


def test_version_names_the_installed_version_and_the_checkout_commit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    line = capsys.readouterr().out.strip()
    sha = version.git_sha()
    assert sha is not None  # the tests run from a checkout
    assert line == f"ttlock-hil {metadata.version('ttlock-hil')} (git {sha})"


def test_an_installed_package_reports_no_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(version, "checkout_root", lambda: None)
    assert version.git_sha() is None
    assert version.version_line() == f"ttlock-hil {metadata.version('ttlock-hil')}"


def test_the_checkout_is_recognised_by_its_layout() -> None:
    root = version.checkout_root()
    assert root is not None
    assert (root / "pyproject.toml").is_file()
    assert Path(__file__).resolve().is_relative_to(root)

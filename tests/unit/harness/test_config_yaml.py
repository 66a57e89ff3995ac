"""harness.config_yaml: hostile YAML gets one ConfigError line, never a hang or a traceback."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ttlock_hil.harness import config_yaml
from ttlock_hil.harness.cli import main
from ttlock_hil.harness.config import parse_config
from ttlock_hil.harness.errors import ConfigError

VALID_HEAD = (
    "lab: bench\ndevices:\n  - {name: d, kind: lock, model: v3-keypad, address: 'sim:v3-keypad'}\n"
)


# A config or command line is parsed whole (YAML, pydantic, argparse): a thousand times
# the cost of one frame. The long run (make fuzz) gives these targets 10 000 examples
# each, not the parsers' 100 000, so it stays within a coffee break on 2 cores.
WHOLE_INPUT_EXAMPLES = min(settings.default.max_examples, 10_000)


def alias_bomb(levels: int) -> str:
    """The classic: each level refers to the one before nine times."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return VALID_HEAD + "\n".join(lines) + "\n"


def _parse_in_child(text: str) -> subprocess.CompletedProcess[str]:
    """Parse in a child process with a hard bound: a hang fails the test, not the run."""
    code = textwrap.dedent(
        """
        import sys
        from ttlock_hil.harness.config import parse_config
        from ttlock_hil.harness.errors import ConfigError
        try:
            parse_config(sys.stdin.read(), file="bomb.yaml")
        except ConfigError as exc:
            print("ConfigError:", exc)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("levels", [7, 9])
def test_an_alias_bomb_is_refused_at_once(levels: int) -> None:
    result = _parse_in_child(alias_bomb(levels))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ConfigError: bomb.yaml:"), result.stdout
    assert "alias" in result.stdout


def test_a_few_aliases_for_shared_settings_still_work() -> None:
    text = (
        "lab: bench\n"
        "x-door: &door {kind: lock, model: v3-keypad}\n"
        "devices:\n"
        "  - {<<: *door, name: a, address: 'sim:v3-keypad'}\n"
        "  - {<<: *door, name: b, address: 'sim:v3-keypad'}\n"
    )
    with pytest.raises(ConfigError, match="x-door"):  # unknown top-level key, not an alias error
        parse_config(text)


def test_a_recursive_alias_is_one_error() -> None:
    with pytest.raises(ConfigError, match="refers to itself"):
        parse_config(VALID_HEAD + "loop: &loop [*loop]\n")


@pytest.mark.parametrize(
    "text",
    [
        VALID_HEAD + "deep: " + "[" * 5000 + "]" * 5000 + "\n",
        VALID_HEAD + "deep: " + "{a: " * 1500 + "1" + "}" * 1500 + "\n",
    ],
    ids=["5000-deep-list", "1500-deep-mapping"],
)
def test_absurd_nesting_is_one_error(text: str) -> None:
    with pytest.raises(ConfigError, match="nest"):  # libyaml or our own depth limit
        parse_config(text)


def test_a_nul_byte_is_one_error_naming_the_line() -> None:
    with pytest.raises(ConfigError) as failed:
        parse_config(VALID_HEAD + "lab2: a\x00b\n", file="nul.yaml")
    assert "nul.yaml" in str(failed.value)
    assert "control character" in str(failed.value) or "NUL" in str(failed.value)


def test_the_c_loader_is_used_when_pyyaml_has_it() -> None:
    expected = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert config_yaml.LOADER is expected


@pytest.mark.fuzz
@settings(deadline=None, max_examples=WHOLE_INPUT_EXAMPLES)
@given(st.text(max_size=400))
def test_any_text_is_a_config_or_one_config_error(text: str) -> None:
    message = ""
    try:
        parse_config(text)
    except ConfigError as exc:
        message = str(exc)
    assert "\n" not in message.strip()  # one line, whatever the input


@pytest.mark.fuzz
@settings(deadline=None, max_examples=WHOLE_INPUT_EXAMPLES)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=12),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_any_yaml_structure_is_a_config_or_one_config_error(value: object) -> None:
    text = yaml.safe_dump({"lab": "x", "devices": [], "extra": value})
    with contextlib.suppress(ConfigError):
        parse_config(text)


# --- numbers (issue: non-finite or absurd values passed and hung a retry forever) -----


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        ("retry: {backoff: [.nan]}", "retry.backoff[0]"),
        ("retry: {backoff: [.inf]}", "retry.backoff[0]"),
        ("retry: {backoff: [1e300]}", "retry.backoff[0]"),
        ("retry: {attempts: true}", "retry.attempts"),
        ("timeouts: {command: .inf}", "timeouts.command"),
        ("timeouts: {scan: .nan}", "timeouts.scan"),
        ("timeouts: {connect: 1e9}", "timeouts.connect"),
    ],
)
def test_non_finite_or_absurd_numbers_are_refused(snippet: str, field: str) -> None:
    with pytest.raises(ConfigError) as failed:
        parse_config(VALID_HEAD + snippet + "\n")
    assert failed.value.field == field


@pytest.mark.parametrize("duration", ["nan", "inf", "-1", "0", "1e9"])
def test_scan_refuses_a_duration_that_is_not_a_sane_number(
    duration: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--duration", duration]) == 2
    err = capsys.readouterr().err
    assert "duration" in err
    assert "Traceback" not in err

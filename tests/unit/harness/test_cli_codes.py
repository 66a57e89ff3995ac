"""``ttlock-hil codes list|show``: the registry from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ttlock_hil.harness.cli import main
from ttlock_hil.protocol.codes import Category, all_codes, by_category, valid_in

LIST_KEYS = {"code", "zh", "en", "since", "absent", "category"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


# ----------------------------------------------------------------------------------- codes list


def test_list_json_prints_every_code_with_the_contract_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "codes", "list", "--json")
    assert (status, err) == (0, "")
    listed = json.loads(out)
    assert len(listed) == 119
    for item, entry in zip(listed, all_codes(), strict=True):
        assert set(item) == LIST_KEYS
        assert item["code"] == entry.code
        assert item["zh"] == entry.zh
        assert item["en"] == entry.en
        assert item["category"] == entry.category.value
        assert item["since"] == (str(entry.since) if entry.since else None)
        assert item["absent"] == (str(entry.absent) if entry.absent else None)


def test_list_json_filters_by_plugin_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "codes", "list", "--plugin-version", "3.1.0", "--json")
    codes = [item["code"] for item in json.loads(out)]
    assert status == 0
    assert codes == [e.code for e in valid_in("3.1.0")]
    assert 10017 in codes
    assert -3 not in codes


def test_list_json_filters_by_category_and_version_together(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(
        capsys, "codes", "list", "--category", "gateway", "--plugin-version", "2.6.0", "--json"
    )
    listed = json.loads(out)
    assert status == 0
    assert [item["code"] for item in listed] == list(range(128, 137))
    assert {item["category"] for item in listed} == {"gateway"}


def test_list_accepts_a_category_by_member_name(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "codes", "list", "--category", "bluetooth-link", "--json")
    assert status == 0
    assert [i["code"] for i in json.loads(out)] == [
        e.code for e in by_category(Category.BLUETOOTH_LINK)
    ]


def test_list_without_json_prints_a_readable_table(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "codes", "list", "--category", "server/network")
    lines = out.strip().splitlines()
    assert status == 0
    assert lines[0].split()[:4] == ["CODE", "SINCE", "ABSENT", "CATEGORY"]
    assert lines[-1] == f"{len(by_category('server/network'))} code(s)"
    row_10304 = next(line for line in lines if line.strip().startswith("10304"))
    assert "Invalid request URL." in row_10304
    assert "效的请求地址" in row_10304
    assert "3.1.0" in row_10304


# ----------------------------------------------------------------------------------- codes show


def test_show_explains_a_code_with_both_texts_and_the_correction(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "codes", "show", "10304")
    assert (status, err) == (0, "")
    assert out.startswith("10304 INVALID_REQUEST_URL\n")
    for needle in (
        "server/network",
        "效的请求地址",
        "zh (corrected):",
        "无效的请求地址",
        "Invalid request URL.",
        "since:",
        "3.1.0",
        "(still present)",
        "valid in plugin 3.1.0: yes",
    ):
        assert needle in out, needle


def test_show_says_when_a_code_is_absent_from_the_plugin_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "codes", "show", "-3")
    assert status == 0
    assert "RESPONSE_TIMEOUT_LEGACY" in out
    assert "valid in plugin 3.1.0: no (absent from 3.1.0)" in out
    _, out, _ = run(capsys, "codes", "show", "-3", "--plugin-version", "2.6.0")
    assert "valid in plugin 2.6.0: yes" in out
    _, out, _ = run(capsys, "codes", "show", "10508", "--plugin-version", "3.0.4")
    assert "valid in plugin 3.0.4: no (introduced in 3.1.0)" in out
    _, out, _ = run(capsys, "codes", "show", "30")
    assert "since:" in out
    assert "(the beginning)" in out


def test_show_json_adds_name_correction_note_and_validity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "codes", "show", "10304", "--json", "--plugin-version", "3.0.4")
    shown = json.loads(out)
    assert status == 0
    assert set(shown) >= LIST_KEYS | {"name", "zh_corrected", "note", "plugin_version", "valid"}
    assert shown["zh"] == "效的请求地址"
    assert shown["zh_corrected"] == "无效的请求地址"
    assert shown["name"] == "INVALID_REQUEST_URL"
    assert shown["plugin_version"] == "3.0.4"
    assert shown["valid"] is False


# --------------------------------------------------------------------------------------- errors


def test_an_unknown_code_is_exit_2_naming_nearest_and_known_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "codes", "show", "12")
    assert (status, out) == (2, "")
    assert_one_error_line(err, "12", "nearest: 11, 13", "128..136")


def test_a_non_numeric_code_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "codes", "show", "abc")
    assert (status, out) == (2, "")
    assert_one_error_line(err, "'abc'", "decimal integer")


@pytest.mark.parametrize(
    "argv",
    [
        ("codes", "show", "30", "--plugin-version", "3.x"),
        ("codes", "list", "--plugin-version", "3.1", "--json"),
    ],
)
def test_a_bad_plugin_version_is_exit_2_naming_the_format_and_known_versions(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert_one_error_line(err, "MAJOR.MINOR.PATCH", "2.6.0", "3.1.0")


def test_a_bad_category_is_exit_2_naming_the_valid_categories(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "codes", "list", "--category", "radio", "--json")
    assert (status, out) == (2, "")
    assert_one_error_line(err, "'radio'", *(repr(c.value) for c in Category))


# ------------------------------------------------------------------------- the installed script


def _script() -> list[str]:
    installed = Path(sys.executable).with_name("ttlock-hil")
    if installed.is_file():
        return [str(installed)]
    return [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]


def test_the_installed_script_lists_and_rejects_like_the_function() -> None:
    done = subprocess.run(
        [*_script(), "codes", "list", "--plugin-version", "3.1.0", "--json"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [i["code"] for i in json.loads(done.stdout)] == [e.code for e in valid_in("3.1.0")]

    failed = subprocess.run(
        [*_script(), "codes", "show", "12"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert failed.stderr.startswith("error: ")
    assert "Traceback" not in failed.stderr


# ----------------------------------------------------------------------------------- pipes


def into_a_closed_pipe(*argv: str) -> tuple[int, str]:
    """The installed script writing into a pipe whose reader is gone (``| head`` after its
    lines): the exit status and everything it printed on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "ttlock-hil"), *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.mark.parametrize("extra", [[], ["--json"], ["--category", "gateway"]])
def test_list_into_a_closed_pipe_is_quiet(extra: list[str]) -> None:
    # Measured: `codes list | head` ended in a BrokenPipeError traceback.
    assert into_a_closed_pipe("codes", "list", *extra) == (141, "")


def test_list_into_head_prints_the_first_lines_and_nothing_on_stderr() -> None:
    script = Path(sys.executable).parent / "ttlock-hil"
    done = subprocess.run(
        ["bash", "-c", f"'{script}' codes list | head -n 3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.splitlines()[0].split() == [
        "CODE",
        "SINCE",
        "ABSENT",
        "CATEGORY",
        "EN",
        "/",
        "ZH",
    ]
    assert len(done.stdout.splitlines()) == 3
    assert done.stderr == ""


def test_codes_alone_prints_its_help_not_required_group(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "codes")
    assert (status, out) == (2, "")
    assert "required" not in err
    assert "usage: ttlock-hil codes" in err
    assert "list" in err
    assert "show" in err
    assert err.strip().splitlines()[-1] == (
        "error: ttlock-hil codes: name a command — one of list, show"
    )

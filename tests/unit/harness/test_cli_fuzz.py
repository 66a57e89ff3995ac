"""The command line under fuzzing: any argument list is a result or one error line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ttlock_hil.harness.cli import main

_WORDS = st.sampled_from(
    [
        "crc",
        "frame",
        "encode",
        "decode",
        "advert",
        "codes",
        "list",
        "show",
        "report",
        "diff",
        "--json",
        "--header",
        "--command",
        "--plaintext",
        "--key",
        "--seed",
        "--gateway-mac",
        "--gateway",
        "--duration",
        "--config",
        "0x14",
        "5.3.1.1.1",
        "²",
        "7f5a",
        "nan",
        "-1",
        "10017",
        "",
    ]
)
_ARGS = st.lists(st.one_of(_WORDS, st.text(max_size=12)), max_size=6)


@pytest.mark.fuzz
@settings(
    deadline=None,
    max_examples=min(settings.default.max_examples, 10_000),  # a whole command line: slow
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(args=_ARGS)
def test_any_arguments_give_an_exit_status_not_a_traceback(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Only commands that need no device or lab: the protocol tools and the code registry.
    head = args[:1]
    if head and head[0] not in ("crc", "frame", "advert", "codes"):
        args = ["codes", *args]
    try:
        status = main(args)
    except SystemExit as exit_:  # argparse: --help, or a usage error it reports itself
        status = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert isinstance(status, int)
    assert "Traceback" not in err
    if status == 2 and err:
        assert err.strip().splitlines()[-1].startswith("error:") or "usage:" in err

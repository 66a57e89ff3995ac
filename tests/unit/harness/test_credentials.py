"""harness.credentials: redacted reprs, JSON with typed errors, references, atomic storage."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.harness.credentials import (
    FORMAT,
    REDACTED,
    CredentialRef,
    CredentialStore,
    LockCredentials,
    backup_path,
    load_credentials,
    save_credentials,
    write_atomically,
)
from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.protocol.frame import V3_HEADER, LockHeader

# The worked values of docs/protocol.md §4.3.
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
ADMIN_PS = 12345678
UNLOCK_KEY = 87654321
CREDS = LockCredentials(aes_key=KEY, admin_ps=ADMIN_PS, unlock_key=UNLOCK_KEY, uid=4242)
OTHER = LockCredentials(aes_key=bytes(range(16)), admin_ps=1111111111, unlock_key=2222222222)

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes and SIGKILL are POSIX")

u32 = st.integers(0, 0xFFFF_FFFF)
credentials = st.builds(
    LockCredentials,
    aes_key=st.binary(min_size=16, max_size=16),
    admin_ps=u32,
    unlock_key=u32,
    lock_flag_pos=st.integers(0, 0xFF_FFFF),
    uid=u32,
    header=st.builds(
        LockHeader,
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
    ),
)


def secret_forms(creds: LockCredentials) -> list[str]:
    return [
        creds.aes_key.hex(),
        str(creds.admin_ps),
        creds.admin_ps.to_bytes(4, "big").hex(),
        str(creds.unlock_key),
        creds.unlock_key.to_bytes(4, "big").hex(),
    ]


# --- the value ------------------------------------------------------------------------


def test_repr_and_str_hide_the_key_and_both_passwords() -> None:
    for text in (repr(CREDS), str(CREDS), f"{CREDS}", f"{[CREDS]}"):
        for form in secret_forms(CREDS):
            assert form not in text
        assert REDACTED in text
    assert "uid=4242" in repr(CREDS)
    assert "header=5.3.1.1.1" in repr(CREDS)


@given(credentials)
def test_json_round_trips(creds: LockCredentials) -> None:
    assert LockCredentials.from_json(creds.to_json()) == creds
    assert LockCredentials.from_dict(creds.to_dict()) == creds


def test_json_layout_is_the_documented_one() -> None:
    assert json.loads(CREDS.to_json()) == {
        "format": FORMAT,
        "aes_key": "00112233445566778899aabbccddeeff",
        "admin_ps": 12345678,
        "unlock_key": 87654321,
        "lock_flag_pos": 0,
        "uid": 4242,
        "header": "5.3.1.1.1",
    }


def test_optional_keys_take_the_v3_defaults() -> None:
    creds = LockCredentials.from_dict(
        {"aes_key": KEY.hex().upper(), "admin_ps": "12345678", "unlock_key": UNLOCK_KEY}
    )
    assert creds == LockCredentials(KEY, ADMIN_PS, UNLOCK_KEY)
    assert creds.header == V3_HEADER
    assert (creds.lock_flag_pos, creds.uid) == (0, 0)


def test_evolve_revalidates() -> None:
    assert CREDS.evolve(lock_flag_pos=1).lock_flag_pos == 1
    with pytest.raises(ConfigError, match="lock_flag_pos"):
        CREDS.evolve(lock_flag_pos=1 << 24)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"aes_key": "0011"}, "aes_key"),
        ({"aes_key": 5}, "aes_key"),
        ({"admin_ps": -1}, "admin_ps"),
        ({"admin_ps": 1 << 32}, "admin_ps"),
        ({"admin_ps": True}, "admin_ps"),
        ({"unlock_key": 1.5}, "unlock_key"),
        ({"lock_flag_pos": 1 << 24}, "lock_flag_pos"),
        ({"uid": "abc"}, "uid"),
        ({"header": "5.x"}, "header"),
        ({"header": 5}, "header"),
        ({"format": "other/9"}, "format"),
        ({"unlok_key": 1}, "unlok_key"),
    ],
)
def test_bad_values_name_the_field_and_the_source_but_not_the_value(
    change: dict[str, object], field: str
) -> None:
    data = {**CREDS.to_dict(), **change}
    with pytest.raises(ConfigError) as info:
        LockCredentials.from_dict(data, source="creds/front-door.json")
    err = info.value
    assert err.field == field
    assert err.file == Path("creds/front-door.json")
    assert err.fix
    for form in secret_forms(CREDS):
        assert form not in str(err)


def test_unknown_key_suggests_the_right_one() -> None:
    data = {**CREDS.to_dict(), "unlok_key": 1}
    with pytest.raises(ConfigError, match="did you mean 'unlock_key'"):
        LockCredentials.from_dict(data)


@pytest.mark.parametrize("key", ["aes_key", "admin_ps", "unlock_key"])
def test_a_missing_required_key_is_named(key: str) -> None:
    data = CREDS.to_dict()
    del data[key]
    with pytest.raises(ConfigError) as info:
        LockCredentials.from_dict(data)
    assert info.value.field == key
    assert "missing" in info.value.message


def test_text_that_is_not_json_says_where() -> None:
    with pytest.raises(ConfigError, match=r"not valid JSON .*line 1 column 1"):
        LockCredentials.from_json("aes_key=0011", source="$X")
    with pytest.raises(ConfigError, match="must be a JSON object"):
        LockCredentials.from_json("[1, 2]")


# --- references -----------------------------------------------------------------------


def test_references_parse_env_and_file_forms() -> None:
    assert CredentialRef.parse("env:FRONT_DOOR") == CredentialRef("env", "FRONT_DOOR")
    assert CredentialRef.parse(" file:creds/a.json ") == CredentialRef("file", "creds/a.json")
    assert str(CredentialRef("env", "X")) == "env:X"


@pytest.mark.parametrize(
    "text",
    [
        "00112233445566778899aabbccddeeff",
        "0x00112233445566778899AABBCCDDEEFF",
        "00:11:22:33:44:55:66:77",
        "12345678",
        '{"aes_key": "00112233445566778899aabbccddeeff"}',
    ],
)
def test_inline_secrets_are_rejected_without_being_echoed(text: str) -> None:
    with pytest.raises(ConfigError, match="inline secrets are not allowed") as info:
        CredentialRef.parse(text)
    assert text not in str(info.value)
    assert "env:" in (info.value.fix or "")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("env:1ABC", "not an environment variable name"),
        ("file:", "needs a path"),
        ("vault:front", "not a credentials reference"),
    ],
)
def test_malformed_references_say_what_is_wrong(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        CredentialRef.parse(text)


def test_file_paths_resolve_against_the_base_directory(tmp_path: Path) -> None:
    ref = CredentialRef.parse("file:creds/a.json")
    assert ref.path(tmp_path) == tmp_path / "creds" / "a.json"
    assert CredentialRef.parse(f"file:{tmp_path}/b.json").path(Path("/elsewhere")) == (
        tmp_path / "b.json"
    )
    with pytest.raises(ValueError, match="not a file reference"):
        CredentialRef("env", "X").path(tmp_path)


def test_load_from_an_environment_variable() -> None:
    env = {"FRONT_DOOR_CREDENTIALS": CREDS.to_json()}
    assert load_credentials("env:FRONT_DOOR_CREDENTIALS", environ=env) == CREDS


def test_a_missing_environment_variable_is_named_with_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        load_credentials("env:FRONT_DOOR_CREDENTIALS", environ={})
    assert "FRONT_DOOR_CREDENTIALS is not set" in str(info.value)
    assert "export FRONT_DOOR_CREDENTIALS=" in (info.value.fix or "")


def test_a_variable_with_bad_content_is_named_as_the_source() -> None:
    bad = json.dumps({**CREDS.to_dict(), "aes_key": "00"})
    with pytest.raises(ConfigError) as info:
        load_credentials(CredentialRef("env", "X"), environ={"X": bad})
    assert str(info.value.file) == "$X"
    assert info.value.field == "aes_key"


def test_load_from_a_relative_file(tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "a.json").write_text(CREDS.to_json())
    assert load_credentials("file:creds/a.json", tmp_path) == CREDS


def test_a_missing_file_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="credentials file not found") as info:
        load_credentials("file:nope.json", tmp_path)
    assert info.value.file == tmp_path / "nope.json"


@posix_only
def test_a_world_readable_file_is_loaded_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.json"
    path.write_text(CREDS.to_json())
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="ttlock_hil.harness.credentials"):
        assert load_credentials(f"file:{path}") == CREDS
    assert "chmod 600" in caplog.text


# --- atomic persistence ---------------------------------------------------------------


@posix_only
def test_store_saves_owner_only_and_loads_back(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials")
    path = store.save("front-door", CREDS)
    assert path == tmp_path / "credentials" / "front-door.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.exists("front-door")
    assert store.load("front-door") == CREDS


def test_the_previous_version_is_kept_as_bak(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.save("fd", CREDS)
    assert store.load_previous("fd") is None
    store.save("fd", OTHER)
    assert store.load("fd") == OTHER
    assert store.load_previous("fd") == CREDS
    store.save("fd", OTHER)  # unchanged content must not push CREDS out of the backup
    assert store.load_previous("fd") == CREDS


def test_every_write_is_fsynced_file_then_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_atomically(tmp_path / "x.json", b"{}")
    assert synced[0] == "file"
    if os.name == "posix":
        assert synced == ["file", "dir"]


def test_a_crash_before_the_rename_leaves_the_old_credentials_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CredentialStore(tmp_path)
    path = store.save("fd", CREDS)
    before = path.read_bytes()
    real_replace = os.replace

    def crash(src: object, dst: object) -> None:
        if Path(str(dst)) == path:
            raise OSError("simulated crash between write and rename")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.save("fd", OTHER)
    assert path.read_bytes() == before
    assert store.load("fd") == CREDS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fd.json", "fd.json.bak"]


def test_a_crash_while_writing_the_backup_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CredentialStore(tmp_path)
    path = store.save("fd", CREDS)

    def crash(src: object, dst: object) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.save("fd", OTHER)
    assert store.load("fd") == CREDS
    assert not backup_path(path).exists()


def test_stale_temporary_files_are_removed_by_the_next_save(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    leftover = tmp_path / ".fd.json.abc123.tmp"
    leftover.write_text("half")
    store.save("fd", CREDS)
    assert not leftover.exists()


@posix_only
def test_sigkill_during_saves_never_leaves_unreadable_credentials(tmp_path: Path) -> None:
    # A real process saving two versions in a loop is killed at random points;
    # each time both the file and its backup must parse to one of the versions.
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from ttlock_hil.harness.credentials import CredentialStore, LockCredentials
        a = LockCredentials.from_json({CREDS.to_json()!r})
        b = LockCredentials.from_json({OTHER.to_json()!r})
        store = CredentialStore(Path({str(tmp_path)!r}))
        store.save("fd", a)
        store.save("fd", b)  # from here on a backup exists (the first save makes none)
        print("ready", flush=True)
        while True:
            store.save("fd", b)
            store.save("fd", a)
        """
    )
    store = CredentialStore(tmp_path)
    for delay in (0.01, 0.05, 0.13):
        with subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert store.load("fd") in (CREDS, OTHER)
        assert store.load_previous("fd") in (CREDS, OTHER)


def test_save_credentials_to_an_explicit_file(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "back-door.json"
    save_credentials(target, CREDS)
    assert load_credentials(f"file:{target}") == CREDS


def test_loading_what_was_never_stored_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no stored credentials for 'fd'") as info:
        CredentialStore(tmp_path).load("fd")
    assert "initialise" in (info.value.fix or "")


def test_a_corrupt_file_points_at_the_backup(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.save("fd", CREDS)
    store.save("fd", OTHER)
    store.path("fd").write_text("{")
    with pytest.raises(ConfigError) as info:
        store.load("fd")
    assert str(backup_path(store.path("fd"))) in (info.value.fix or "")


@pytest.mark.parametrize("name", ["../etc/passwd", "Front Door", "", "a/b"])
def test_store_names_cannot_escape_the_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="not a device name"):
        CredentialStore(tmp_path).path(name)


def test_a_superscript_digit_string_is_refused_not_a_traceback() -> None:
    data = {
        "format": FORMAT,
        "aes_key": "00112233445566778899aabbccddeeff",
        "admin_ps": "²",
        "unlock_key": 1,
    }
    with pytest.raises(ConfigError, match="admin_ps"):
        LockCredentials.from_dict(data)

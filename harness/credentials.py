"""Lock credentials: what opens an initialised lock, where it comes from, where it is kept.

docs/protocol.md §4.3 "Persisted lockData": after the add-admin flow an app must keep
the lock's AES key, the admin password, the unlock key, the lock flag position,
the uid and the lock's header version. Lose them and nobody can open the lock
again without a factory reset, so this module is careful about three things:

* **Never in logs.** ``repr``/``str`` of :class:`LockCredentials` hide the AES
  key, admin password and unlock key.
* **Never inline in the lab config.** ``hil-config.yaml`` names a *source*: an
  environment variable (``env:FRONT_DOOR_CREDENTIALS``, holding the JSON below)
  or a file (``file:credentials/front-door.json``, relative to the config
  file). :class:`CredentialRef` parses that reference.
* **Never lost.** :class:`CredentialStore` writes atomically (temporary file in
  the same directory, flush, ``fsync``, ``os.replace``, ``fsync`` of the
  directory), mode 0600, and keeps the previous version as ``<name>.json.bak``.
  A crash at any instant leaves either the old or the new credentials on disk,
  never a torn file and never nothing.

The JSON form (the same in a file or an environment variable)::

    {
      "format": "ttlock-hil.credentials/1",
      "aes_key": "00112233445566778899aabbccddeeff",
      "admin_ps": 12345678,
      "unlock_key": 87654321,
      "lock_flag_pos": 0,
      "uid": 0,
      "header": "5.3.1.1.1"
    }

``format``, ``lock_flag_pos`` (default 0), ``uid`` (default 0) and ``header``
(default ``5.3.1.1.1``, the V3 header of §2.1) may be omitted.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from ttlock_hil.protocol.errors import ProtocolError
from ttlock_hil.protocol.frame import V3_HEADER, LockHeader
from ttlock_hil.protocol.lockdata import REDACTED, LockData

from .errors import ConfigError

__all__ = [
    "FORMAT",
    "REDACTED",
    "CredentialRef",
    "CredentialStore",
    "LockCredentials",
    "backup_path",
    "load_credentials",
    "save_credentials",
    "write_atomically",
]

logger = logging.getLogger(__name__)

FORMAT: Final = "ttlock-hil.credentials/1"
"""Value of the ``format`` key written into every credentials file."""

_U32_MAX: Final = 0xFFFF_FFFF
# CHECK_ADMIN / CHECK_USER_TIME put only the low three bytes of lockFlagPos on
# the wire (docs/protocol.md §4.2, opcodes 0x41/0x55).
_FLAG_POS_MAX: Final = 0xFF_FFFF
_KEYS: Final = ("format", "aes_key", "admin_ps", "unlock_key", "lock_flag_pos", "uid", "header")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_STORE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_JSON_EXAMPLE: Final = (
    '{"aes_key": "<32 hex digits>", "admin_ps": <integer>, "unlock_key": <integer>, '
    '"lock_flag_pos": 0, "uid": 0, "header": "5.3.1.1.1"}'
)


@dataclass(frozen=True, slots=True, repr=False)
class LockCredentials(LockData):
    """The "lockData" of one initialised lock (docs/protocol.md §4.3).

    ``aes_key`` is the 16-byte key the lock handed over in GET_AES_KEY (0x19);
    ``admin_ps`` and ``unlock_key`` are the two u32 values sent in ADD_ADMIN
    (0x56); ``lock_flag_pos`` (0..2^24-1) and ``uid`` (u32) go into CHECK_ADMIN
    (0x41) and CHECK_USER_TIME (0x55); ``header`` is the lock's version header.

    ``repr()`` and ``str()`` never show the key, admin password or unlock key.
    Invalid values raise :class:`~ttlock_hil.harness.errors.ConfigError` naming the field.
    """

    def __post_init__(self) -> None:
        if not isinstance(self.aes_key, bytes | bytearray) or len(self.aes_key) != 16:
            got = (
                f"{len(self.aes_key)} bytes"
                if isinstance(self.aes_key, bytes | bytearray)
                else type(self.aes_key).__name__
            )
            raise ConfigError(
                f"must be 16 bytes, got {got}",
                field="aes_key",
                fix="use the key the lock returned for GET_AES_KEY (32 hex digits)",
            )
        object.__setattr__(self, "aes_key", bytes(self.aes_key))
        for name, top in (
            ("admin_ps", _U32_MAX),
            ("unlock_key", _U32_MAX),
            ("lock_flag_pos", _FLAG_POS_MAX),
            ("uid", _U32_MAX),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                # Never echo the value: it may be a secret.
                raise ConfigError(
                    f"must be an integer in 0..{top}",
                    field=name,
                    fix=f"give {name} as a plain JSON integer",
                )
        if not isinstance(self.header, LockHeader):
            raise ConfigError(
                "must be a LockHeader", field="header", fix='use a string such as "5.3.1.1.1"'
            )

    def evolve(self, **changes: Any) -> LockCredentials:
        """A copy with some fields changed (e.g. ``lock_flag_pos`` after an e-key reset)."""
        return replace(self, **changes)

    # --- JSON ---------------------------------------------------------------

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready mapping (contains the secrets in clear: handle with care)."""
        return {
            "format": FORMAT,
            "aes_key": self.aes_key.hex(),
            "admin_ps": self.admin_ps,
            "unlock_key": self.unlock_key,
            "lock_flag_pos": self.lock_flag_pos,
            "uid": self.uid,
            "header": str(self.header),
        }

    def to_json(self) -> str:
        """Pretty JSON text, the content of a credentials file."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: object, *, source: str | Path | None = None) -> LockCredentials:
        """Parse the JSON mapping; errors name ``source`` and the field, never the value."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"credentials must be a JSON object, got {type(data).__name__}",
                file=source,
                fix=f"write {_JSON_EXAMPLE}",
            )
        for key in data:
            if key not in _KEYS:
                close = difflib.get_close_matches(str(key), _KEYS, n=1)
                hint = (
                    f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(_KEYS)}"
                )
                raise ConfigError(f"unknown key {key!r}", file=source, field=str(key), fix=hint)
        fmt = data.get("format", FORMAT)
        if fmt != FORMAT:
            raise ConfigError(
                f"unsupported format {fmt!r}",
                file=source,
                field="format",
                fix=f'use "format": "{FORMAT}" (or omit it)',
            )
        for key in ("aes_key", "admin_ps", "unlock_key"):
            if key not in data:
                raise ConfigError(
                    "required key missing", file=source, field=key, fix=f"add it: {_JSON_EXAMPLE}"
                )
        try:
            return cls(
                aes_key=_parse_key(data["aes_key"]),
                admin_ps=_parse_int(data["admin_ps"], "admin_ps"),
                unlock_key=_parse_int(data["unlock_key"], "unlock_key"),
                lock_flag_pos=_parse_int(data.get("lock_flag_pos", 0), "lock_flag_pos"),
                uid=_parse_int(data.get("uid", 0), "uid"),
                header=_parse_header(data.get("header", str(V3_HEADER))),
            )
        except ConfigError as exc:
            raise exc.located(file=source) from None

    @classmethod
    def from_json(cls, text: str, *, source: str | Path | None = None) -> LockCredentials:
        """Parse credentials JSON text (a file's content or an environment variable)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # The decoder message names line/column only, never the content.
            raise ConfigError(
                f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                file=source,
                fix=f"write {_JSON_EXAMPLE}",
            ) from None
        return cls.from_dict(data, source=source)


def _parse_key(value: object) -> bytes:
    text = value.strip() if isinstance(value, str) else None
    if text is None or not re.fullmatch(r"[0-9A-Fa-f]{32}", text):
        raise ConfigError(
            "must be a string of 32 hex digits (16 bytes)",
            field="aes_key",
            fix="write exactly 32 hex digits, no spaces or separators",
        )
    return bytes.fromhex(text)


def _parse_int(value: object, name: str) -> int:
    # The vendor's lockData keeps adminPwd/lockKey as digit strings; accept both.
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,10}", value.strip()):
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"must be an integer, got {type(value).__name__}",
            field=name,
            fix=f"give {name} as a JSON integer",
        )
    return value


def _parse_header(value: object) -> LockHeader:
    if not isinstance(value, str):
        raise ConfigError(
            f"must be a string, got {type(value).__name__}",
            field="header",
            fix='write it like "5.3.1.1.1"',
        )
    try:
        return LockHeader.parse(value)
    except ProtocolError as exc:
        raise ConfigError(str(exc), field="header", fix='write it like "5.3.1.1.1"') from None


# --- references ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """Where a device's credentials live: ``env:VARNAME`` or ``file:PATH``.

    A ``file:`` path that is relative is resolved against the directory of the
    config file that names it (``base_dir``), not against the working directory.
    """

    scheme: Literal["env", "file"]
    target: str

    @classmethod
    def parse(cls, text: str) -> CredentialRef:
        """Parse a reference; inline secrets and unknown forms raise ConfigError with a fix."""
        fix = (
            "use env:VARNAME (the variable holds the credentials JSON) or "
            "file:credentials/<device>.json (relative to the config file)"
        )
        stripped = text.strip()
        scheme, sep, rest = stripped.partition(":")
        if sep and scheme == "env":
            if not _ENV_NAME.match(rest):
                raise ConfigError(
                    f"{rest!r} is not an environment variable name",
                    fix="use letters, digits and underscores, e.g. env:FRONT_DOOR_CREDENTIALS",
                )
            return cls("env", rest)
        if sep and scheme == "file":
            if not rest.strip():
                raise ConfigError("file: needs a path", fix=fix)
            return cls("file", rest.strip())
        if _looks_like_secret(stripped):
            # Do not echo it: it is probably a key or a password.
            raise ConfigError("inline secrets are not allowed", fix=fix)
        raise ConfigError(f"{stripped!r} is not a credentials reference", fix=fix)

    def path(self, base_dir: Path | None = None) -> Path:
        """The file of a ``file:`` reference, resolved against ``base_dir``."""
        if self.scheme != "file":
            raise ValueError(f"{self} is not a file reference")
        path = Path(self.target).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return path

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}"


def _looks_like_secret(text: str) -> bool:
    if text.startswith(("{", "[")):
        return True
    compact = re.sub(r"[\s:,-]", "", text)
    return bool(re.fullmatch(r"(0x)?[0-9A-Fa-f]{8,}", compact)) or compact.isdigit()


def load_credentials(
    ref: CredentialRef | str,
    base_dir: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> LockCredentials:
    """Read the credentials a reference points to.

    ``env:NAME`` reads the JSON from ``environ`` (default ``os.environ``);
    ``file:PATH`` reads the file (relative paths against ``base_dir``). Every
    problem is a :class:`ConfigError` naming the variable or file and the field.
    """
    if isinstance(ref, str):
        ref = CredentialRef.parse(ref)
    if ref.scheme == "env":
        env = os.environ if environ is None else environ
        name = ref.target
        if name not in env:
            raise ConfigError(
                f"environment variable {name} is not set",
                fix=f"export {name}='{_JSON_EXAMPLE}' or point credentials: at a file",
            )
        return LockCredentials.from_json(env[name], source=f"${name}")
    path = ref.path(base_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "credentials file not found",
            file=path,
            fix="initialise the lock to create it, or correct the file: path "
            "(relative paths start at the config file's directory)",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read credentials file ({exc.strerror})",
            file=path,
            fix="check the file's permissions",
        ) from None
    _warn_if_readable_by_others(path)
    return LockCredentials.from_json(text, source=path)


def _warn_if_readable_by_others(path: Path) -> None:
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "%s: credentials file is accessible by other users (mode %o); run chmod 600 %s",
            path,
            stat.S_IMODE(mode),
            path,
        )


# --- persistence ---------------------------------------------------------------


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new content.

    Steps: write a temporary file in the same directory (same filesystem, so the
    rename is atomic), flush and ``fsync`` it, ``os.replace`` it over ``path``,
    then ``fsync`` the directory so the rename itself survives a power cut.
    The file is created with ``mode`` (0600: owner only) before any byte is written.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # POSIX only: Windows cannot open a directory for fsync (NTFS journals renames).
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_credentials(path: Path, creds: LockCredentials, *, keep_backup: bool = True) -> None:
    """Persist ``creds`` at ``path`` atomically; the previous content goes to ``path.bak``.

    The backup is itself written atomically *before* the main file is replaced,
    so at every instant at least one of the two files holds a complete version
    that opened the lock.
    """
    data = creds.to_json().encode("utf-8")
    if keep_backup and path.exists():
        old = path.read_bytes()
        if old == data:
            return
        write_atomically(backup_path(path), old)
    write_atomically(path, data)


def backup_path(path: Path) -> Path:
    """Where :func:`save_credentials` keeps the previous version of ``path``."""
    return path.with_name(path.name + ".bak")


class CredentialStore:
    """A directory of credentials files, one per device name (``<name>.json``).

    This is where the harness keeps credentials it created itself (``init()``
    on a device whose config omits ``credentials:``). Keep the directory out
    of reports and version control (``credentials/`` is git-ignored).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"CredentialStore({str(self.directory)!r})"

    def path(self, name: str) -> Path:
        """The file for device ``name`` (a slug: no path separators)."""
        if not _STORE_NAME.match(name):
            raise ConfigError(
                f"{name!r} is not a device name usable as a file name",
                field="name",
                fix="use lower-case letters, digits, '-' and '_'",
            )
        return self.directory / f"{name}.json"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def save(self, name: str, creds: LockCredentials) -> Path:
        """Persist atomically (see :func:`save_credentials`); returns the file path."""
        path = self.path(name)
        save_credentials(path, creds)
        self._remove_stale_temporaries(path)
        return path

    def load(self, name: str) -> LockCredentials:
        """The stored credentials of ``name``; ConfigError if there are none."""
        path = self.path(name)
        if not path.is_file():
            raise ConfigError(
                f"no stored credentials for {name!r}",
                file=path,
                fix="initialise the lock first, or give credentials: for it in the lab config",
            )
        try:
            return load_credentials(CredentialRef("file", str(path)))
        except ConfigError as exc:
            if backup_path(path).is_file():
                raise ConfigError(
                    exc.message,
                    file=exc.file,
                    field=exc.field,
                    fix=f"{exc.fix}; the previous version is in {backup_path(path)}",
                ) from None
            raise

    def load_previous(self, name: str) -> LockCredentials | None:
        """The version saved before the current one (``<name>.json.bak``), if any."""
        bak = backup_path(self.path(name))
        if not bak.is_file():
            return None
        return load_credentials(CredentialRef("file", str(bak)))

    def _remove_stale_temporaries(self, path: Path) -> None:
        # A process killed inside write_atomically leaves its temporary file
        # (mode 0600); the next successful save tidies up.
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)

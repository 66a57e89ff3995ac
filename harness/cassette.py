"""Recording cassettes from sessions and importing them from btsnoop captures.

The format and its templates are :mod:`ttlock_hil.protocol.cassette`'s; this module
adds what needs I/O, clocks and the session's events:

* :class:`CassetteRecorder` — attached to a :class:`~ttlock_hil.harness.session.Session`
  (``Lab(record=PATH)``, ``--hil-record DIR``, ``ttlock-hil lock … --record FILE``), it
  turns every request the session writes and every frame the lock notifies into an
  :class:`~ttlock_hil.protocol.cassette.Interaction`, decoded, with the secrets as
  tokens. Written when the session closes, mode 0600, atomically.
* :func:`import_btsnoop` — a btsnoop capture (Android's HCI snoop log, Bumble's
  ``BtSnooper``, ``sim serve --snoop``) → the same cassette: ATT values
  (:mod:`ttlock_hil.protocol.btsnoop`) → our reassembler → frames → decrypted with the
  key of the captured GET_AES_KEY exchange or of the credentials given.
* :func:`load_cassette` / :func:`save_cassette` with typed errors.

docs/replay.md tells the whole story.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ttlock_hil.protocol.app import Event, Problem, Progress, Pushed, Replied, RuleFailed, Stray
from ttlock_hil.protocol.btsnoop import TIMESTAMP_2000_US, Sender, att_values
from ttlock_hil.protocol.cassette import (
    Cassette,
    CassetteError,
    Connection,
    DeviceInfo,
    Interaction,
    KeyUse,
    Notification,
    Template,
    Tokenizer,
    command_label,
)
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY, aes_decrypt
from ttlock_hil.protocol.device import Clock, DeviceKind
from ttlock_hil.protocol.errormap import is_processing, lock_error_code
from ttlock_hil.protocol.errors import DecryptError, FrameError, ProtocolError
from ttlock_hil.protocol.frame import LockFrame, parse_frame
from ttlock_hil.protocol.lockdata import LockData
from ttlock_hil.protocol.reassembly import FrameReassembler

from .credentials import write_atomically
from .errors import ConfigError
from .redaction import Redactor
from .trace import LOCK_SECRET_COMMANDS

__all__ = [
    "CassetteRecorder",
    "ReplayClock",
    "import_btsnoop",
    "load_cassette",
    "prepare_cassette_path",
    "save_cassette",
]

logger = logging.getLogger(__name__)


def _key_use(key: bytes | None, payload_size: int) -> KeyUse:
    if payload_size == 0 or key is None:
        return KeyUse.NONE
    return KeyUse.DEFAULT if key == DEFAULT_LOCK_KEY else KeyUse.LOCK


def _harness_version() -> str | None:
    try:
        from .version import harness_version

        return harness_version()
    except (ImportError, OSError):  # a tree without the version module's data
        return None


class ReplayClock:
    """The harness's clock during a replay (R2): the cassette device sets it to each
    request's recorded time, so timestamps the harness builds are the recorded ones."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0)

    def now(self) -> datetime:
        return self._now

    def set(self, value: datetime) -> None:
        self._now = value


# --- files --------------------------------------------------------------------------------

MAX_CASSETTE_BYTES = 64 << 20
"""A cassette larger than this is refused before it is read (tens of thousands of
interactions; a whole HIL suite's recording is a few MB)."""


def save_cassette(path: Path, cassette: Cassette) -> Path:
    """Write ``cassette`` to ``path`` atomically, readable by its owner only (0600)."""
    path = prepare_cassette_path(path)
    try:
        write_atomically(path, cassette.dumps().encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the cassette {path} ({exc.strerror or exc})",
            field="record",
            fix="record into a directory you can write",
        ) from None
    return path


def prepare_cassette_path(path: Path | str) -> Path:
    """Make sure a cassette can be written at ``path`` (its directory is created): a
    :class:`ConfigError` with the fix otherwise, before anything is recorded."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"{path} is a directory",
            field="record",
            fix="give a file name for the cassette, e.g. session.cassette.json",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path.parent, *path.parent.parents) if p.exists()), path)
        raise ConfigError(
            f"{blocker} is not a directory, so {path} cannot be written there",
            field="record",
            fix="move that file away, or record into another directory",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot create {path.parent} ({exc.strerror or exc})",
            field="record",
            fix="record into a directory you can write",
        ) from None
    return path


def load_cassette(path: Path | str) -> Cassette:
    """Read a cassette file; a missing or broken one is a :class:`ConfigError` with the fix."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CASSETTE_BYTES:
            raise ConfigError(
                f"{size} bytes, more than a cassette holds ({MAX_CASSETTE_BYTES >> 20} MiB)",
                file=path,
                field="cassette",
                fix="is it a cassette? Record long sessions into several (--hil-record DIR)",
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no cassette at {path}",
            file=path,
            field="cassette",
            fix="record one with --record, or import a capture with "
            "'ttlock-hil cassette import-btsnoop'",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the cassette: {exc}", file=path, field="cassette", fix="check the file"
        ) from exc
    try:
        return Cassette.loads(text, name=str(path))
    except CassetteError as exc:
        raise ConfigError(str(exc), file=path, field="cassette", fix="re-record it") from exc


# --- recording from a session -------------------------------------------------------------


@dataclass
class _Open:
    """An interaction being recorded."""

    n: int
    connection: int
    at: float
    clock: str | None
    command: int
    header: str
    key: KeyUse
    key_token: str
    request: Template
    fields: dict[str, Any]
    notifications: list[Notification] = field(default_factory=list)
    outcome: str = "open"
    code: int | None = None
    latency: float | None = None

    def close(self) -> Interaction:
        return Interaction(
            n=self.n,
            connection=self.connection,
            at=self.at,
            clock=self.clock,
            command=self.command,
            header=self.header,
            key=self.key,
            key_token=self.key_token,
            request=self.request,
            notifications=tuple(self.notifications),
            outcome=self.outcome if self.outcome != "open" else "no-outcome",
            code=self.code,
            latency=self.latency,
            fields=self.fields,
        )


class _Builder:
    """What recorder and importer share: interactions from plaintexts, tokens as they come."""

    def __init__(self, credentials: LockData | None) -> None:
        self.tokens = Tokenizer(secret_commands=LOCK_SECRET_COMMANDS)
        if credentials is not None:
            self.tokens.know_credentials(
                credentials.aes_key, credentials.admin_ps, credentials.unlock_key
            )
        self.connections: list[Connection] = []
        self.done: list[Interaction] = []
        self.current: _Open | None = None
        self.waiting: list[Notification] = []  # pushes before any request of a connection
        self.lock_header: str | None = None

    def connect(self, at: float, setting_mode: bool | None, battery: int | None) -> None:
        self.finish()
        self.tokens.new_connection()
        self.connections.append(Connection(len(self.connections) + 1, at, setting_mode, battery))

    def request(
        self,
        at: float,
        *,
        clock: str | None,
        command: int,
        plaintext: bytes,
        header: str,
        key: bytes | None,
        payload_size: int,
        fields: dict[str, Any],
    ) -> _Open:
        self.finish()
        if not self.connections:
            self.connect(at, None, None)
        self.tokens.interaction = len(self.done) + 1
        self.current = _Open(
            n=len(self.done) + 1,
            connection=len(self.connections),
            at=at,
            clock=clock,
            command=command,
            header=header,
            key=_key_use(key, payload_size),
            key_token=self.tokens.key_token(key),
            request=self.tokens.request(command, plaintext),
            fields=fields,
            notifications=list(self.waiting),
        )
        self.waiting.clear()
        return self.current

    def notify(
        self, kind: str, at: float, raw: bytes, plaintext: bytes, key: bytes | None
    ) -> Notification | None:
        try:
            frame = parse_frame(raw)
        except FrameError as exc:
            crc_frame = getattr(exc, "frame", None)
            if not isinstance(crc_frame, LockFrame):
                return None
            frame = crc_frame
        if not isinstance(frame, LockFrame):
            return None
        header = str(frame.header)
        self.lock_header = self.lock_header or header
        note = Notification(
            kind=kind,
            at=at,
            header=header,
            encrypt=frame.encrypt,
            key=_key_use(key, len(frame.payload)),
            key_token=self.tokens.key_token(key),
            plaintext=self.tokens.reply(plaintext),
        )
        if self.current is not None:
            self.current.notifications.append(note)
        elif self.done and self.done[-1].connection == len(self.connections):
            last = self.done[-1]  # after its reply: it belongs to the last request
            self.done[-1] = replace(last, notifications=(*last.notifications, note))
        else:
            self.waiting.append(note)  # before this connection's first request
        return note

    def finish(self) -> None:
        if self.current is not None:
            self.done.append(self.current.close())
            self.current = None

    def cassette(
        self,
        *,
        source: str,
        device: DeviceInfo,
        plugin_version: str,
        recorded: str | None,
        notes: tuple[str, ...] = (),
    ) -> Cassette:
        self.finish()
        interactions = list(self.done)
        if device.header is None and self.lock_header is not None:
            device = replace(device, header=self.lock_header)
        device = _with_device_information(device, interactions)
        return Cassette(
            source=source,
            device=device,
            plugin_version=plugin_version,
            tokens=dict(self.tokens.tokens),
            random=tuple(self.tokens.random),
            connections=tuple(self.connections),
            interactions=tuple(interactions),
            recorded=recorded,
            harness=_harness_version(),
            notes=notes,
        )


_DEVICE_INFORMATION = {1: "model", 2: "hardware", 3: "firmware"}
"""READ_DEVICE_INFO items (0x90, docs/protocol.md §4.3 step 8) a cassette's device names."""


def _with_device_information(device: DeviceInfo, interactions: list[Interaction]) -> DeviceInfo:
    """Model number, hardware and firmware as the lock itself reported them, where the
    recording read them and the lab did not know (a radio lock, an imported capture)."""
    found: dict[str, str] = {}
    for item in interactions:
        reply = item.reply
        if item.command != LockCommand.READ_DEVICE_INFO or reply is None:
            continue
        request, answer = item.request.parts, reply.plaintext.parts
        if len(request) != 1 or len(answer) != 1:
            continue  # a token in either: not a plain text item
        asked, text = request[0], answer[0]
        if not isinstance(asked, bytes) or not isinstance(text, bytes) or len(asked) != 1:
            continue
        name = _DEVICE_INFORMATION.get(asked[0])
        if name is not None and text[:2] == b"\x90\x01":
            found.setdefault(name, text[2:].rstrip(b"\x00").decode("ascii", "replace"))
    changes = {k: v for k, v in found.items() if getattr(device, k) is None}
    return replace(device, **changes) if changes else device


class CassetteRecorder:
    """Records one lock session as a cassette (see the module docstring).

    The session calls :meth:`connected`, :meth:`sent`, :meth:`received` and
    :meth:`finished`; :meth:`close` writes the file (when ``path`` is given).
    ``clock`` is the lab's clock: what the harness builds its timestamps from,
    recorded with each request so a replay can step a manual clock through it.
    ``redactor`` redacts the informational ``fields`` of each record.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        device: DeviceInfo,
        plugin_version: str,
        source: str,
        clock: Clock | None = None,
        credentials: LockData | None = None,
        redactor: Redactor | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.device = device
        self.plugin_version = plugin_version
        self.source = source
        self._clock = clock
        self._redactor = redactor if redactor is not None else Redactor()
        self._monotonic = monotonic
        self._start = monotonic()
        self._sent_at = 0.0
        self._builder = _Builder(credentials)
        self._recorded = datetime.now(UTC).replace(microsecond=0).isoformat()
        self._notes: list[str] = []
        self._skipping = False
        self.closed = False

    def __repr__(self) -> str:
        return f"CassetteRecorder({self.device.name!r}, {self.path})"

    def _now(self) -> float:
        return self._monotonic() - self._start

    def connected(self, setting_mode: bool | None, battery: int | None) -> None:
        self._builder.connect(self._now(), setting_mode, battery)

    def sent(self, command: int, plaintext: bytes, frame: bytes, key: bytes) -> None:
        """A request was written. A recording problem never fails the session: the
        interaction is left out, and the cassette's ``notes`` say which and why."""
        self._skipping = False
        try:
            self._sent(command, plaintext, frame, key)
        except Exception as exc:  # noqa: BLE001 - the session under test goes on
            self._builder.finish()
            self._skipping = True
            self._note(f"a {command_label(command)} request was not recorded", exc)

    def _note(self, what: str, exc: Exception) -> None:
        # The exception's type only: its text could quote a plaintext.
        note = f"{what}: {type(exc).__name__} (please report it)"
        logger.warning("%s: %s", self.device.name, note)
        self._notes.append(note)

    def _sent(self, command: int, plaintext: bytes, frame: bytes, key: bytes) -> None:
        try:
            parsed = parse_frame(frame)
        except FrameError:
            return
        if not isinstance(parsed, LockFrame):
            return
        clock = self._clock.now().isoformat() if self._clock is not None else None
        self._sent_at = self._monotonic()
        self._builder.request(
            self._now(),
            clock=clock,
            command=command,
            plaintext=plaintext,
            header=str(parsed.header),
            key=key,
            payload_size=len(parsed.payload),
            fields=self._fields(command, plaintext),
        )

    def _fields(self, command: int, plaintext: bytes) -> dict[str, Any]:
        from ttlock_hil.protocol.messages.registry import decode_request

        try:
            fields = decode_request(command, plaintext).to_dict(redact=True)
        except (ProtocolError, ValueError):
            return {}
        if command in LOCK_SECRET_COMMANDS:
            return {}
        result = self._redactor.value(fields)
        return result if isinstance(result, dict) else {}

    def received(self, event: Event) -> None:
        if self._skipping:
            return  # the replies of a request that was left out
        try:
            self._received(event)
        except Exception as exc:  # noqa: BLE001 - the session under test goes on
            self._note("a notification was not recorded", exc)

    def _received(self, event: Event) -> None:
        at = self._now()
        if isinstance(event, Replied):
            self._builder.notify("reply", at, event.raw, event.plaintext, event.key)
        elif isinstance(event, Progress):
            self._builder.notify("progress", at, event.raw, event.plaintext, event.key)
        elif isinstance(event, Stray):
            self._builder.notify("stray", at, event.raw, event.plaintext, event.key)
        elif isinstance(event, Pushed):
            plaintext = _open(event.raw, event.key)
            if plaintext is not None:
                self._builder.notify("push", at, event.raw, plaintext, event.key)
        elif isinstance(event, Problem | RuleFailed):
            logger.debug("%s: an unreadable frame is not recorded: %r", self.device.name, event)

    def finished(self, outcome: str, code: int | None) -> None:
        current = self._builder.current
        if current is not None and current.outcome == "open":
            current.outcome = outcome
            current.code = code
            current.latency = round(self._monotonic() - self._sent_at, 6)

    def cassette(self) -> Cassette:
        return self._builder.cassette(
            source=self.source,
            device=self.device,
            plugin_version=self.plugin_version,
            recorded=self._recorded,
            notes=tuple(self._notes),
        )

    def close(self) -> Cassette:
        """Finish what was recorded and (with a path) write the cassette.

        A session calls it when it closes; when several sessions of a device share the
        recorder, each close writes the cassette so far (all their connections).
        """
        cassette = self.cassette()
        if self.path is not None:
            save_cassette(self.path, cassette)
            logger.info("%s: cassette written: %s", self.device.name, self.path)
        self.closed = True
        return cassette


def _open(raw: bytes, key: bytes | None) -> bytes | None:
    try:
        frame = parse_frame(raw)
    except FrameError:
        return None
    if not isinstance(frame, LockFrame):
        return None
    if not frame.payload:
        return b""
    if key is None:
        return None
    try:
        return frame.decrypt(key)
    except DecryptError:
        return None


# --- importing a btsnoop capture -----------------------------------------------------------


def _clock_of(stamp_us: int) -> str | None:
    """The capture's time as a lock-local clock; ``None`` when it is no date (a tool that
    writes 0, a garbled record): the import goes on without that time."""
    try:
        moment = datetime(2000, 1, 1) + timedelta(microseconds=stamp_us - TIMESTAMP_2000_US)
    except OverflowError:
        return None
    if not 2000 <= moment.year <= 2099:
        return None  # no lock's clock (a LockDate is 2000..2099): a garbled timestamp
    return moment.replace(microsecond=0).isoformat()  # a lock's clock has no fractions


def import_btsnoop(
    capture: bytes,
    *,
    name: str = "capture",
    device: str = "lock",
    credentials: LockData | None = None,
    plugin_version: str = "3.1.0",
    model: str | None = None,
    preset: str | None = None,
) -> Cassette:
    """A cassette from a btsnoop capture of a TTLock app talking to a lock.

    The lock key comes from the capture's GET_AES_KEY reply (encrypted with the public
    default key, §3.1) or from ``credentials``; without either, frames under the lock key
    cannot be read and the import stops with a :class:`CassetteError` that says so.
    A malformed capture raises :class:`~ttlock_hil.protocol.btsnoop.CaptureError`.
    """
    builder = _Builder(credentials)
    lock_key = credentials.aes_key if credentials is not None else None
    app = FrameReassembler(DeviceKind.LOCK)
    lock = FrameReassembler(DeviceKind.LOCK)
    connections: dict[int, int] = {}
    first: int | None = None
    pending: int | None = None  # the opcode of the request in flight
    sent_at = 0
    for value in att_values(capture):
        first = value.timestamp_us if first is None else first
        at = (value.timestamp_us - first) / 1e6
        if value.connection not in connections:
            connections[value.connection] = len(connections) + 1
            builder.connect(at, None, None)
            app, lock, pending = (
                FrameReassembler(DeviceKind.LOCK),
                FrameReassembler(DeviceKind.LOCK),
                None,
            )
        if value.sender is Sender.APP:
            for raw in app.feed(value.value):
                frame = _lock_frame(raw, value.record)
                if frame is None:
                    continue
                key = DEFAULT_LOCK_KEY if frame.command == LockCommand.GET_AES_KEY else lock_key
                plaintext = _decrypt(frame, key, value.record, "request")
                builder.finish()
                current = builder.request(
                    at,
                    clock=_clock_of(value.timestamp_us),
                    command=frame.command,
                    plaintext=plaintext,
                    header=str(frame.header),
                    key=key,
                    payload_size=len(frame.payload),
                    fields={},
                )
                current.outcome = "timeout"
                pending, sent_at = frame.command, value.timestamp_us
            continue
        for raw in lock.feed(value.value):
            frame = _lock_frame(raw, value.record)
            if frame is None:
                continue
            key, plaintext = _reply_plaintext(frame, lock_key, value.record)
            echo = plaintext[0] if plaintext else None
            status = plaintext[1] if len(plaintext) > 1 else None
            if echo == LockCommand.GET_AES_KEY and status == 1 and len(plaintext) >= 18:
                lock_key = plaintext[2:18]
            if pending is not None and echo == pending:
                error = plaintext[2] if status == 0 and len(plaintext) > 2 else None
                if status not in (0, 1) or (error is not None and is_processing(error)):
                    builder.notify("progress", at, raw, plaintext, key)
                    continue
                builder.notify("reply", at, raw, plaintext, key)
                answered = builder.current
                if answered is not None:
                    answered.outcome = "ok" if status == 1 else "device-error"
                    answered.code = 0 if status == 1 else _code(error, plugin_version)
                    answered.latency = round((value.timestamp_us - sent_at) / 1e6, 6)
                pending = None
            else:
                builder.notify("push" if echo is not None else "stray", at, raw, plaintext, key)
    if first is None:
        raise CassetteError(
            f"{name}: no ATT write or notification in the capture: capture while the app "
            "talks to the lock (connect, then act)"
        )
    return builder.cassette(
        source=f"btsnoop:{Path(name).name}",
        device=DeviceInfo(name=device, model=model, preset=preset),
        plugin_version=plugin_version,
        recorded=_clock_of(first),
    )


def _code(error: int | None, plugin_version: str) -> int | None:
    if error is None:
        return None
    try:
        return lock_error_code(error, plugin_version).code
    except ProtocolError:
        return None


def _lock_frame(raw: bytes, record: int) -> LockFrame | None:
    try:
        frame = parse_frame(raw)
    except FrameError as exc:
        crc_frame = getattr(exc, "frame", None)
        if isinstance(crc_frame, LockFrame):
            logger.warning("record %d: a frame with a bad CRC is kept as captured", record)
            return crc_frame
        logger.warning("record %d: not a frame, skipped: %s", record, exc)
        return None
    return frame if isinstance(frame, LockFrame) else None


def _decrypt(frame: LockFrame, key: bytes | None, record: int, what: str) -> bytes:
    if not frame.payload:
        return b""
    if key is None:
        raise CassetteError(
            f"record {record}: a {what} under the lock's key, and the capture holds no "
            "GET_AES_KEY exchange: give the lock's credentials (--credentials FILE)"
        )
    try:
        return frame.decrypt(key)
    except DecryptError as exc:
        raise CassetteError(
            f"record {record}: the {what} does not decrypt with the key in use: the "
            "credentials belong to another lock, or the lock was reset since"
        ) from exc


def _reply_plaintext(
    frame: LockFrame, lock_key: bytes | None, record: int
) -> tuple[bytes | None, bytes]:
    """A lock frame's plaintext: under the lock key, else the default key (GET_AES_KEY's)."""
    if not frame.payload:
        return None, b""
    for key in (lock_key, DEFAULT_LOCK_KEY):
        if key is None:
            continue
        try:
            plaintext = aes_decrypt(key, frame.payload)
        except DecryptError:
            continue
        if plaintext[:1] and (key != DEFAULT_LOCK_KEY or plaintext[0] == LockCommand.GET_AES_KEY):
            return key, plaintext
    return None, _decrypt(frame, lock_key, record, "notification")

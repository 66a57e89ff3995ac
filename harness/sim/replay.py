"""Replaying cassettes: against the simulator (R1) and as a device (R2).

Both replays read a :class:`~ttlock_hil.protocol.cassette.Cassette` (docs/replay.md).

**R1, simulator fidelity** — :func:`replay_in_simulator`: a :class:`VirtualLock` is
built from the cassette (its preset, the lock's header, the credentials given or test
ones), its randomness is scripted with the recorded lock-chosen values (served to the
draws made while the interaction that recorded them is fed), a :class:`ManualClock`
is stepped through the recorded times, the recorded requests are fed in order and
every reply is compared with the recorded one: first byte for byte (tokens bound), then
after normalising volatile fields (battery, lock-clock times within ``tolerance``).
One :class:`Fidelity` per interaction; what the simulator gets wrong is the caller's to
judge against its allowlist of known divergences.

**R2, harness regression** — :class:`CassetteDevice`: a
:class:`~ttlock_hil.harness.sim.device.VirtualDevice` that plays the recorded lock on
any transport (tier 1: ``Lab(replay={name: cassette})``). Requests must come in the
recorded order, per connection; each is matched against its recorded template (the
secrets the harness sends bind the tokens); the recorded notifications follow, pushes
in their recorded place before or after the reply. What does not match is kept in
:attr:`CassetteDevice.mismatches` (expected and actual, no secret) and nothing is
answered, so the harness times out where a real lock would have done something else;
:meth:`CassetteDevice.check` raises the first mismatch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from ttlock_hil.protocol.advert import build_lock_advert, lock_local_name, split_for_bleak
from ttlock_hil.protocol.cassette import (
    Bindings,
    Cassette,
    CassetteError,
    Interaction,
    KeyUse,
    Notification,
    ReplayMismatch,
    TokenKind,
    stand_in,
)
from ttlock_hil.protocol.crypto import aes_encrypt, parse_mac
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errors import DecryptError, FrameError, MessageError
from ttlock_hil.protocol.frame import LockFrame, LockHeader, build_lock_frame, parse_frame
from ttlock_hil.protocol.lockdata import REDACTED, LockData
from ttlock_hil.protocol.messages import Reply, ReplyData
from ttlock_hil.protocol.messages.registry import decode_reply_data, decode_request
from ttlock_hil.protocol.reassembly import FrameReassembler

from .device import LOCK_GATT, Advertisement, Clock, GattProfile, ManualClock
from .lock import VirtualLock
from .presets import DEFAULT_LOCK_PRESET, PresetError, UnknownPreset, lock_preset

__all__ = [
    "TEST_CREDENTIALS",
    "CassetteDevice",
    "Fidelity",
    "replay_in_simulator",
]

logger = logging.getLogger(__name__)

REPLY_OPCODE: Final = 0x54
"""The header opcode of every lock notification (§4.1)."""

TEST_CREDENTIALS: Final = LockData(
    aes_key=bytes.fromhex("00112233445566778899aabbccddeeff"),
    admin_ps=12345678,
    unlock_key=87654321,
)
"""docs/protocol.md §4.3's worked-frame values: what a replay uses when none are given."""

_VOLATILE: Final = frozenset({"battery"})


def _clock_value(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


def _preset_name(cassette: Cassette) -> str:
    for name in (cassette.device.preset, cassette.device.model):
        if name:
            try:
                lock_preset(name)
            except (UnknownPreset, PresetError):
                continue
            return name
    return DEFAULT_LOCK_PRESET


def _bindings(
    cassette: Cassette, credentials: LockData | None, secrets: Mapping[str, bytes] | None
) -> Bindings:
    bindings = cassette.bindings()
    if credentials is not None:
        bindings.supply_credentials(
            credentials.aes_key, credentials.admin_ps, credentials.unlock_key
        )
    for name, value in (secrets or {}).items():
        bindings.supply(name, value)
    return bindings


def _frame(note: Notification, bindings: Bindings) -> bytes:
    """A recorded notification rendered, encrypted and framed as the lock sent it."""
    plaintext = note.plaintext.render(bindings)
    key = bindings.key(note.key, note.key_token)
    if note.key is not KeyUse.NONE and key is None:
        raise CassetteError(
            f"no key for a {note.key.value}-key notification: {bindings.hint('aes_key')}"
        )
    payload = aes_encrypt(key, plaintext) if key is not None and plaintext else plaintext
    header = LockHeader.parse(note.header)
    return build_lock_frame(REPLY_OPCODE, payload, header=header, encrypt=note.encrypt) + b"\r\n"


# --- R2: the cassette plays the lock ------------------------------------------------------------


class CassetteDevice:
    """A lock that is a cassette (see the module docstring). A :class:`VirtualDevice`.

    ``credentials`` are the lock's (the lab's credentials file); without them a recorded
    pairing hands out :data:`TEST_CREDENTIALS`' key, and the harness's ADD_ADMIN binds
    the admin password and unlock key. ``clock``: the harness's clock; when it can be
    set (a :class:`ManualClock`) it is stepped to each request's recorded time.
    ``secrets``: values of secret tokens (``s1``…) the test does not send itself.
    """

    def __init__(
        self,
        cassette: Cassette,
        *,
        address: str | None = None,
        clock: Clock | None = None,
        credentials: LockData | None = None,
        secrets: Mapping[str, bytes] | None = None,
    ) -> None:
        self.cassette = cassette
        self.bindings = _bindings(cassette, credentials, secrets)
        preset = lock_preset(_preset_name(cassette))
        mac = ":".join(f"{b:02X}" for b in parse_mac(address or preset.mac))
        self._address = mac
        self._name = lock_local_name(preset.name_prefix, mac)
        header = cassette.device.header
        self._header = LockHeader.parse(header) if header else preset.header
        self._clock = clock
        self._cursor = 0
        self._connection = 0
        self._reassembler = FrameReassembler(DeviceKind.LOCK)
        self.mismatches: list[ReplayMismatch] = []
        self.played: list[int] = []
        self._step_clock()

    def __repr__(self) -> str:
        total = len(self.cassette.interactions)
        return f"<CassetteDevice {self._name} {self.cassette.source} {self._cursor}/{total}>"

    # --- VirtualDevice ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def address(self) -> str:
        return self._address

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.LOCK

    @property
    def gatt(self) -> GattProfile:
        return LOCK_GATT

    def _next(self) -> Interaction | None:
        items = self.cassette.interactions
        return items[self._cursor] if self._cursor < len(items) else None

    def _next_connection(self) -> tuple[bool, int]:
        nxt = self._next()
        number = nxt.connection if nxt is not None else len(self.cassette.connections)
        for connection in self.cassette.connections:
            if connection.n == number:
                setting = connection.setting_mode
                battery = connection.battery
                return (
                    bool(setting) if setting is not None else False,
                    battery if battery is not None else 80,
                )
        return False, 80

    def advertisement(self) -> Advertisement:
        setting_mode, battery = self._next_connection()
        if self._cursor == 0 and self.cassette.starts_in_setting_mode:
            setting_mode = True
        data = build_lock_advert(
            protocol_type=self._header.protocol_type,
            protocol_version=self._header.sub_version,
            scene=self._header.scene,
            unlocked=False,
            has_events=False,
            setting_mode=setting_mode,
            battery=battery,
            mac=self._address,
        )
        company_id, rest = split_for_bleak(data)
        return Advertisement(self._name, {company_id: rest}, [LOCK_GATT.service])

    def on_connect(self) -> None:
        nxt = self._next()
        self._connection = nxt.connection if nxt is not None else self._connection + 1
        self._reassembler = FrameReassembler(DeviceKind.LOCK)

    def on_disconnect(self) -> None:
        self._reassembler = FrameReassembler(DeviceKind.LOCK)

    def receive(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for raw in self._reassembler.feed(data):
            out += self._play(raw)
        return out

    def take_pushes(self) -> list[bytes]:
        return []

    def error_reply(self, command: int, error: int) -> bytes:
        key = self.bindings.key(KeyUse.LOCK)
        plaintext = Reply.failure(command, error).encode()
        payload = aes_encrypt(key, plaintext) if key is not None else plaintext
        return build_lock_frame(REPLY_OPCODE, payload, header=self._header) + b"\r\n"

    def push_frame(self) -> bytes:
        return self.error_reply(0x14, 0)

    # --- playing ----------------------------------------------------------------------------

    def _step_clock(self) -> None:
        nxt = self._next()
        when = _clock_value(nxt.clock) if nxt is not None else None
        setter: Callable[[datetime], None] | None = getattr(self._clock, "set", None)
        if when is not None and setter is not None:
            setter(when)

    def _miss(self, problem: ReplayMismatch) -> list[bytes]:
        logger.warning("%s: %s", self._name, problem)
        self.mismatches.append(problem)
        return []

    def _play(self, raw: bytes) -> list[bytes]:
        try:
            frame = parse_frame(raw)
        except FrameError as exc:
            return self._miss(ReplayMismatch(f"the harness wrote a bad frame: {exc}"))
        if not isinstance(frame, LockFrame):
            return self._miss(ReplayMismatch("the harness wrote a non-V3 frame"))
        expected = self._next()
        if expected is None:
            return self._miss(
                ReplayMismatch(
                    "the cassette has no more interactions",
                    command=frame.command,
                    expected="nothing (the recording ended)",
                    actual=f"request 0x{frame.command:02x}",
                )
            )
        n, command = expected.n, expected.command
        if expected.connection != self._connection:
            return self._miss(
                ReplayMismatch(
                    "the recording reconnected before this request",
                    interaction=n,
                    command=command,
                    expected=f"connection {expected.connection}",
                    actual=f"connection {self._connection}",
                )
            )
        if frame.command != command:
            return self._miss(
                ReplayMismatch(
                    "a different command",
                    interaction=n,
                    command=command,
                    expected=f"0x{command:02x}",
                    actual=f"0x{frame.command:02x}",
                )
            )
        key = self.bindings.key(expected.key, expected.key_token)
        try:
            plaintext = frame.decrypt(key) if key is not None and frame.payload else frame.payload
        except DecryptError:
            return self._miss(
                ReplayMismatch(
                    "the request does not decrypt with the key the recording used: are the "
                    "credentials the recorded lock's?",
                    interaction=n,
                    command=command,
                )
            )
        seen = expected.request.compare(plaintext, self.bindings)
        if not seen.ok and not seen.tokens and seen.size is None:
            seen = replace(seen, ok=_requests_agree(expected, plaintext, self.bindings))
        if not seen.ok:
            return self._miss(
                ReplayMismatch(
                    f"a different request ({seen.describe()})",
                    interaction=n,
                    command=command,
                    expected=expected.request.text,
                    actual=_shown(expected, plaintext),
                )
            )
        self._cursor += 1
        self.played.append(n)
        out: list[bytes] = []
        for note in expected.notifications:
            self._fill(note)
            try:
                out.append(_frame(note, self.bindings))
            except CassetteError as exc:
                return self._miss(ReplayMismatch(str(exc), interaction=n, command=command))
        self._step_clock()
        return out

    def _fill(self, note: Notification) -> None:
        """Values only the lock knows, never recorded: the test key, a stand-in code."""
        for token in note.plaintext.token_names:
            if self.bindings.value(token) is not None:
                continue
            spec = self.bindings.tokens[token]
            if token == "aes_key":
                self.bindings.supply(token, TEST_CREDENTIALS.aes_key)
            elif spec.kind is not TokenKind.SUM:
                self.bindings.supply(token, stand_in(spec))  # aes_key2, an admin code…
        if note.key is KeyUse.LOCK and self.bindings.value(note.key_token) is None:
            self.bindings.supply(note.key_token, TEST_CREDENTIALS.aes_key)

    def check(self, *, complete: bool = True) -> None:
        """Raise the first mismatch; with ``complete``, also say which recorded requests
        never came."""
        if self.mismatches:
            raise self.mismatches[0]
        missing = self._next() if complete else None
        if missing is not None:
            raise ReplayMismatch(
                f"the harness stopped after {self._cursor} of "
                f"{len(self.cassette.interactions)} recorded requests",
                interaction=missing.n,
                command=missing.command,
                expected=f"request {missing.label}",
                actual="no request",
            )


def _shown(expected: Interaction, actual: bytes) -> str:
    """An actual request for a mismatch message: token spans masked, or its decoded fields
    with the secret ones redacted when the spans do not line up; never a secret."""
    if len(actual) == expected.request.size:
        return expected.request.masked(actual)
    try:
        fields = decode_request(expected.command, actual).to_dict(redact=True)
    except MessageError:
        return f"{len(actual)} bytes (no layout to show them by)"
    return f"{len(actual)} bytes: {fields}"


REQUEST_TIME_TOLERANCE: Final = 60.0
"""Seconds a request's time may differ from the recording's (R2): the clock is stepped to
the recorded time, but a request is built a moment after it."""
_QUARTER_HOUR: Final = 900
_MAX_OFFSET: Final = 14 * 3600


def _requests_agree(expected: Interaction, actual: bytes, bindings: Bindings) -> bool:
    """The same request once times are normalised (R2, docs/replay.md).

    Lock-local dates must agree within :data:`REQUEST_TIME_TOLERANCE`; a Unix time
    (``unix_time``, from the harness's naive local clock) may also differ by a time-zone
    offset (whole quarter hours, at most 14 h): a bench and a CI runner need not share one.
    """
    try:
        recorded = expected.request.render(bindings)
        want = decode_request(expected.command, recorded).to_dict(redact=False)
        got = decode_request(expected.command, actual).to_dict(redact=False)
    except (CassetteError, MessageError):
        return False
    for name in set(want) | set(got):
        a, b = want.get(name), got.get(name)
        if a == b or _close_dates(a, b, REQUEST_TIME_TOLERANCE):
            continue
        if name == "unix_time" and isinstance(a, int) and isinstance(b, int):
            offset = abs(a - b)
            nearest = round(offset / _QUARTER_HOUR) * _QUARTER_HOUR
            if nearest <= _MAX_OFFSET and abs(offset - nearest) <= REQUEST_TIME_TOLERANCE:
                continue
        return False
    return True


# --- R1: the simulator answers the recorded requests ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Fidelity:
    """How the simulator answered one recorded interaction.

    ``verdict``: ``same`` (byte for byte, tokens bound), ``normalised`` (equal once the
    volatile fields are set aside), ``diverged`` (``differences`` say where; never a
    secret value).
    """

    interaction: Interaction
    verdict: str
    differences: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.verdict in ("same", "normalised")


class _ScriptedRandom:
    """The lock's randomness: recorded values for the interaction being fed, else filler."""

    def __init__(self, cassette: Cassette, bindings: Bindings) -> None:
        self._entries = [dict(e) for e in cassette.random]
        self._bindings = bindings
        self._tokens = cassette.tokens
        self.interaction: int | None = None
        self._filler = 0

    def __call__(self, size: int) -> bytes:
        for entry in self._entries:
            if entry.get("used") or entry.get("interaction") != self.interaction:
                continue
            token = str(entry["token"])
            if self._tokens[token].size != size:
                continue
            entry["used"] = True
            value = self._bindings.value(token)
            if value is None:
                value = stand_in(self._tokens[token])
                self._bindings.supply(token, value)
            return value
        self._filler += 1
        return bytes((self._filler * 37 + i * 11) & 0xFF for i in range(size))


def replay_in_simulator(
    cassette: Cassette,
    *,
    credentials: LockData | None = None,
    secrets: Mapping[str, bytes] | None = None,
    tolerance: float = 120.0,
) -> list[Fidelity]:
    """Feed the cassette's requests to a virtual lock built from it; one result each."""
    bindings = _bindings(cassette, credentials or TEST_CREDENTIALS, secrets)
    rng = _ScriptedRandom(cassette, bindings)
    first = cassette.interactions[0] if cassette.interactions else None
    clock = ManualClock(_clock_value(first.clock) if first is not None else None)
    preset = _preset_name(cassette)
    setting_mode = cassette.starts_in_setting_mode
    header = LockHeader.parse(cassette.device.header) if cassette.device.header else None
    creds = credentials or TEST_CREDENTIALS
    if setting_mode:
        lock = VirtualLock(preset, clock=clock, rng=rng)
        if header is not None:
            lock._header = header  # the recorded lock's own header
    else:
        lock = VirtualLock.from_credentials(
            creds, header=header, preset=preset, clock=clock, rng=rng
        )
    results: list[Fidelity] = []
    connection: int | None = None
    for item in cassette.interactions:
        if item.connection != connection:
            lock.on_disconnect()
            lock.on_connect()
            connection = item.connection
        when = _clock_value(item.clock)
        if when is not None:
            clock.set(when)
        rng.interaction = item.n
        results.append(_feed(lock, item, bindings, tolerance))
    return results


def _feed(lock: VirtualLock, item: Interaction, bindings: Bindings, tolerance: float) -> Fidelity:
    for token in item.request.token_names:
        if bindings.value(token) is None:
            spec = bindings.tokens[token]
            if spec.kind in (TokenKind.SECRET, TokenKind.CREDENTIAL):
                # a passcode, or the credentials of a pairing made in the recording
                bindings.supply(token, stand_in(spec))
    try:
        plaintext = item.request.render(bindings)
    except CassetteError as exc:
        return Fidelity(item, "diverged", (f"cannot build the request: {exc}",))
    key = bindings.key(item.key, item.key_token)
    payload = aes_encrypt(key, plaintext) if key is not None and plaintext else plaintext
    request = build_lock_frame(item.command, payload, header=LockHeader.parse(item.header))
    frames = lock.receive(request + b"\r\n") + lock.take_pushes()
    recorded = [n for n in item.notifications if n.kind in ("reply", "progress")]
    answered = [
        opened
        for opened in (_open(frame, bindings) for frame in frames)
        if opened is not None and opened[1][:1] == bytes([item.command])
    ]
    differences: list[str] = []
    normalised = False
    if len(answered) != len(recorded):
        differences.append(f"{len(answered)} replies where the lock sent {len(recorded)}")
    for index, (note, (header, actual)) in enumerate(zip(recorded, answered, strict=False)):
        where = f"{note.kind} {index + 1}"
        if str(header) != note.header:
            differences.append(f"{where}: header {header} where the lock sent {note.header}")
        seen = note.plaintext.compare(actual, bindings)
        if seen.ok:
            continue
        problem = _normalised(note, actual, bindings, tolerance)
        if problem is None:
            normalised = True
        else:
            differences.append(f"{where}: {problem}")
    if differences:
        return Fidelity(item, "diverged", tuple(differences))
    return Fidelity(item, "normalised" if normalised else "same")


def _open(frame: bytes, bindings: Bindings) -> tuple[LockHeader, bytes] | None:
    try:
        parsed = parse_frame(frame[:-2] if frame.endswith(b"\r\n") else frame)
    except FrameError:
        return None
    if not isinstance(parsed, LockFrame):
        return None
    if not parsed.payload:
        return parsed.header, b""
    for key in (*reversed(bindings.lock_keys()), bindings.key(KeyUse.DEFAULT)):
        if key is None:
            continue
        try:
            return parsed.header, parsed.decrypt(key)
        except DecryptError:
            continue
    return None


def _normalised(
    note: Notification, actual: bytes, bindings: Bindings, tolerance: float
) -> str | None:
    """``None`` when the replies agree once volatile fields are set aside, else why not."""
    try:
        expected = note.plaintext.render(bindings)
    except CassetteError as exc:
        return str(exc)
    if expected[:2] != actual[:2]:
        return f"echo/status {actual[:2].hex()} where the lock sent {expected[:2].hex()}" + (
            f", error byte {actual[2]:#04x}" if len(actual) > 2 and actual[1] == 0 else ""
        )
    if len(expected) > 2 and expected[1] == 0:
        if expected[2:3] != actual[2:3]:
            shown = actual[2:3].hex() or "none"
            return f"error byte {shown} where the lock sent {expected[2:3].hex()}"
        return None
    try:
        want = decode_reply_data(expected[0], expected[2:])
        got = decode_reply_data(actual[0], actual[2:])
    except MessageError:
        return (
            f"{len(actual)} bytes that differ from the lock's {len(expected)} "
            "(no layout to normalise by)"
        )
    return _field_differences(
        want, got, tolerance, _carries_secret(note, expected, actual, bindings)
    )


def _carries_secret(note: Notification, expected: bytes, actual: bytes, bindings: Bindings) -> bool:
    """Whether either reply holds a secret the layouts do not mark: a passcode in a log
    record's raw tail (GET_OPERATE_LOG), which the recording made a token."""
    secret = (TokenKind.SECRET, TokenKind.CREDENTIAL)
    if any(bindings.tokens[name].kind in secret for name in note.plaintext.token_names):
        return True
    for name, spec in bindings.tokens.items():
        value = bindings.value(name) if spec.kind in secret else None
        if value and (value in expected or value in actual):
            return True
    return False


def _field_differences(
    want: ReplyData, got: ReplyData, tolerance: float, carries_secret: bool = False
) -> str | None:
    """The fields that differ; a secret never shown, also one inside a list (a passcode of
    a PWD_LIST entry): those fields are shown redacted; none is shown with its value when
    the reply ``carries_secret`` the layouts do not mark."""
    raw_want, raw_got = want.to_dict(redact=False), got.to_dict(redact=False)
    shown_want, shown_got = want.to_dict(redact=True), got.to_dict(redact=True)
    problems = []
    for name in sorted(set(raw_want) | set(raw_got)):
        if name in _VOLATILE:
            continue
        a, b = raw_want.get(name), raw_got.get(name)
        if a == b or _close_dates(a, b, tolerance):
            continue
        shown_a, shown_b = shown_want.get(name), shown_got.get(name)
        if REDACTED in (shown_a, shown_b) or shown_a == shown_b:  # only a secret differs
            problems.append(f"{name} differs (secret)")
        elif carries_secret:
            problems.append(f"{name} differs (not shown: the reply carries a secret)")
        else:
            problems.append(f"{name} {shown_b!r} where the lock sent {shown_a!r}")
    return "; ".join(problems) or None


def _close_dates(a: object, b: object, tolerance: float) -> bool:
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    try:
        first, second = _lock_date(a), _lock_date(b)
    except ValueError:
        return False
    return abs((first - second) / timedelta(seconds=1)) <= tolerance


def _lock_date(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace(" ", "T"))
    return parsed.replace(tzinfo=None)

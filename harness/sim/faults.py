"""Fault injection for the virtual transports: what goes wrong, and when.

A :class:`FaultPlan` belongs to one device on the :class:`~ttlock_hil.harness.sim.air.Air`.
Tests arm it with rules::

    plan = air.faults("S202F_f69a04")
    plan.add(Fault.SILENCE, command=0x47)            # the next unlock gets no reply
    plan.add(Fault.CORRUPT_CRC, times=None)          # every reply from now on
    plan.add(Fault.ERROR_REPLY, command=0x41, error=0x03)
    plan.add(Fault.DROP_LINK_AFTER_REPLY, skip=2)    # the third request, whatever it is
    plan.clear()

Which request a rule applies to is decided on the *complete request frame* the
app wrote (any chunking), by its command byte, read with the frame codec
(:func:`frame_command`; the layouts are docs/protocol.md §2.1–2.3).
``command=None`` matches any request; ``skip`` lets that many matching requests
pass first; ``times`` is how many matches the rule fires for (``None`` =
always). Several rules of *different* faults may fire on one request (e.g. a
delayed, corrupted reply); of several rules of the *same* fault, the first one
armed fires.

This module holds only decisions and byte surgery (sans-IO, no asyncio, no
clock): :class:`FaultPlan` says which faults fire, :class:`RequestFaults` turns
the device's reply frames into what goes on the air. The transports
(:mod:`ttlock_hil.harness.sim.backend`, later the Bumble peripheral) execute the decision:
delays, link drops, MTU.

Every :class:`Fault` member documents the TTLock error code (WeChat plugin
numbering, docs/protocol.md §5.3) a correct harness reports when the fault fires;
:attr:`Fault.expected_code` has it as a number where there is exactly one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from ttlock_hil.protocol.errors import CrcMismatch
from ttlock_hil.protocol.frame import (
    GATEWAY_MAGIC,
    LOCK_MAGIC,
    Frame,
    GatewayFrame,
    LegacyLockFrame,
    LockFrame,
    build_gateway_frame,
    build_lock_frame,
    frame_size,
    parse_frame,
)

MIN_MTU: Final = 23
"""Smallest ATT MTU (Bluetooth Core Vol 3 Part F §3.2.8): 20-byte chunks."""
MAX_MTU: Final = 517
"""Largest ATT MTU a central may negotiate."""


class InvalidFault(ValueError):
    """A fault rule that cannot be applied as written (the message says how to fix it)."""


class Fault(Enum):
    """What can go wrong between the app and a virtual device.

    Request faults apply to a matching request frame; link faults apply to the
    connection (scan, connect, service discovery, notify, write).
    """

    expected_code: int | None
    """The TTLock code (plugin >= 3.1.0) a harness reports, if one code fits."""

    # Defaults only so that ``Fault("silence")`` (lookup by value) type-checks.
    def __new__(cls, value: str, expected_code: int | None = None, doc: str = "") -> Fault:
        member = object.__new__(cls)
        member._value_ = value
        member.expected_code = expected_code
        member.__doc__ = doc
        return member

    @property
    def is_link_level(self) -> bool:
        """True for faults of the connection rather than of one request."""
        return self in _LINK_FAULTS

    # --- request faults -------------------------------------------------
    SILENCE = (
        "silence",
        10017,
        "The request is lost on its way to the device: it never acts on it and never "
        "replies. Harness reports a response timeout: 10017 (plugin >= 3.1.0; -3 before).",
    )
    DELAY = (
        "delay",
        None,
        "The device acts at once but its reply is notified ``seconds`` later. Within the "
        "harness's command deadline: success; beyond it: response timeout 10017 (-3 before), "
        "and the late reply is a stray frame that must not answer the next request.",
    )
    CORRUPT_CRC = (
        "corrupt-crc",
        1,
        "Every reply frame to the request has its CRC byte inverted. Harness reports a CRC "
        "error: 1 (vendor LOCK_CRC_CHECK_ERROR). ``times=1`` is 'once', ``times=None`` 'always'.",
    )
    DROP_LINK_BEFORE_REPLY = (
        "drop-link-before-reply",
        10003,
        "The device acts on the request, then the link drops before any reply (the harness "
        "cannot know whether the lock unlocked). Harness reports disconnected: 10003.",
    )
    DROP_LINK_AFTER_REPLY = (
        "drop-link-after-reply",
        10003,
        "The reply is delivered, then the link drops. The command itself succeeds; the harness "
        "must notice the drop: its next command fails with disconnected 10003 (or reconnects).",
    )
    ERROR_REPLY = (
        "error-reply",
        None,
        "The device refuses the request without acting on it: the reply is "
        "``device.error_reply(command, error)``. Harness reports ``error`` as the same number "
        "in decimal (0x1E -> 30; docs/protocol.md §5.1).",
    )
    PARTIAL_FRAME = (
        "partial-frame",
        10017,
        "Only the first ``keep`` bytes of the first reply frame are notified (default: half "
        "of it), never the rest. Harness reports a response timeout: 10017 (-3 before) and "
        "must drop the half frame from its reassembler before the next request.",
    )
    DUPLICATE_NOTIFICATION = (
        "duplicate-notification",
        None,
        "Each reply frame is notified twice. No error: the harness uses the first copy and "
        "must not take the second for the reply to its next request.",
    )
    PUSH_BEFORE_REPLY = (
        "push-before-reply",
        None,
        "``device.push_frame()`` (an unsolicited state frame) is notified just before the "
        "reply. No error: the harness matches replies by echoed opcode (docs/protocol.md §4.1).",
    )
    MTU = (
        "mtu",
        None,
        "The connection's MTU becomes ``mtu`` from this request on: reply chunks grow to "
        "MTU-3 bytes and ``max_write_without_response_size`` follows. No error expected.",
    )
    UNDECRYPTABLE_REPLY = (
        "undecryptable-reply",
        10001,
        "Reply ciphertext is garbled so that it cannot be decrypted, with a valid CRC. "
        "Harness reports 'lock may have been reset': 10001 (vendor KEY_INVALID).",
    )
    # --- link faults ----------------------------------------------------
    NOT_ADVERTISING = (
        "not-advertising",
        10036,
        "The device is missing from scans (one scan session or connection attempt per "
        "``times``). Harness reports device not found: 10036.",
    )
    CONNECT_TIMEOUT = (
        "connect-timeout",
        10002,
        "A connection attempt hangs until the caller's timeout, then raises TimeoutError. "
        "Harness reports connect timeout: 10002.",
    )
    WRITE_FAILED = (
        "write-failed",
        10033,
        "``write_gatt_char`` raises BleakError and the bytes never reach the device. "
        "``times``/``skip`` count writes (chunks), not frames. Harness reports send failed: "
        "10033.",
    )
    NOTIFY_FAILED = (
        "notify-failed",
        10508,
        "``start_notify`` raises BleakError. Harness reports enabling notify failed: 10508 "
        "from plugin 3.1.0 (10032 before; protocol.errormap decides).",
    )
    SERVICE_MISSING = (
        "service-missing",
        10513,
        "Service discovery of a connection finds no TTLock service (0x1910 / 0x1911). "
        "Harness reports Bluetooth service missing: 10513.",
    )
    CHARACTERISTIC_MISSING = (
        "characteristic-missing",
        10018,
        "The TTLock service lacks its ``characteristic`` ('write', 'notify'; default both). "
        "Harness reports characteristic missing: 10018.",
    )


_LINK_FAULTS: Final = frozenset(
    {
        Fault.NOT_ADVERTISING,
        Fault.CONNECT_TIMEOUT,
        Fault.WRITE_FAILED,
        Fault.NOTIFY_FAILED,
        Fault.SERVICE_MISSING,
        Fault.CHARACTERISTIC_MISSING,
    }
)
# WRITE_FAILED is link-level but may still target a command (its header is in the
# first chunk, docs/protocol.md §2.1), so it accepts ``command=``.
_COMMAND_FAULTS: Final = frozenset((set(Fault) - _LINK_FAULTS) | {Fault.WRITE_FAILED})
_CHARACTERISTICS: Final = ("write", "notify")


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One armed fault: what, for which command, how often, with which parameter.

    Only the parameter of the rule's own fault may be given: ``seconds``
    (DELAY), ``error`` (ERROR_REPLY), ``mtu`` (MTU), ``keep`` (PARTIAL_FRAME),
    ``characteristic`` (CHARACTERISTIC_MISSING).
    """

    fault: Fault
    command: int | None = None
    times: int | None = 1
    skip: int = 0
    seconds: float | None = None
    error: int | None = None
    mtu: int | None = None
    keep: int | None = None
    characteristic: str | None = None

    def __post_init__(self) -> None:
        name = f"Fault.{self.fault.name}"
        if self.command is not None:
            if self.fault not in _COMMAND_FAULTS:
                raise InvalidFault(
                    f"{name} is a link fault and applies to the connection, not to a "
                    "command: drop command="
                )
            if not 0 <= self.command <= 0xFF:
                raise InvalidFault(f"command must be an opcode byte (0..255), got {self.command}")
        if self.times is not None and self.times < 1:
            raise InvalidFault(f"times must be >= 1 (or None for always), got {self.times}")
        if self.skip < 0:
            raise InvalidFault(f"skip must be >= 0, got {self.skip}")
        self._check_parameters(name)

    def _check_parameters(self, name: str) -> None:
        wanted = {
            Fault.DELAY: "seconds",
            Fault.ERROR_REPLY: "error",
            Fault.MTU: "mtu",
            Fault.PARTIAL_FRAME: "keep",
            Fault.CHARACTERISTIC_MISSING: "characteristic",
        }.get(self.fault)
        for parameter in ("seconds", "error", "mtu", "keep", "characteristic"):
            if parameter != wanted and getattr(self, parameter) is not None:
                takes = f"only {wanted}=" if wanted else "no parameter"
                raise InvalidFault(f"{name} takes {takes}, got {parameter}=")
        if self.fault is Fault.DELAY and (self.seconds is None or self.seconds < 0):
            raise InvalidFault(f"{name} needs seconds= >= 0, got {self.seconds}")
        if self.fault is Fault.ERROR_REPLY and (self.error is None or not 0 <= self.error <= 0xFF):
            raise InvalidFault(
                f"{name} needs error= a device error byte (0..255), got {self.error}"
            )
        if self.fault is Fault.MTU and (self.mtu is None or not MIN_MTU <= self.mtu <= MAX_MTU):
            raise InvalidFault(f"{name} needs mtu= between {MIN_MTU} and {MAX_MTU}, got {self.mtu}")
        if self.fault is Fault.PARTIAL_FRAME and self.keep is not None and self.keep < 1:
            raise InvalidFault(f"{name} keep= must be >= 1 byte, got {self.keep}")
        if self.characteristic is not None and self.characteristic not in _CHARACTERISTICS:
            raise InvalidFault(
                f"{name} characteristic= must be 'write' or 'notify' (or None for both), "
                f"got {self.characteristic!r}"
            )

    def matches(self, command: int | None) -> bool:
        """Whether this rule targets a request (or write) with ``command``."""
        return self.command is None or self.command == command


@dataclass(frozen=True, slots=True)
class FiredFault:
    """A rule that fired, and on which command (``None`` for link faults)."""

    rule: FaultRule
    command: int | None


class _Armed:
    """A rule with its counters (the only mutable part of a plan)."""

    __slots__ = ("remaining", "rule", "skipped")

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self.remaining = rule.times
        self.skipped = 0


@dataclass(frozen=True, slots=True)
class RequestFaults:
    """The faults that fired on one request frame, and what they do to the replies."""

    command: int
    rules: tuple[FaultRule, ...] = ()

    def get(self, fault: Fault) -> FaultRule | None:
        """The rule of ``fault`` that fired, if any."""
        return next((rule for rule in self.rules if rule.fault is fault), None)

    def __contains__(self, fault: object) -> bool:
        return any(rule.fault is fault for rule in self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    @property
    def delivers_request(self) -> bool:
        """False when the device must not see the request (SILENCE, ERROR_REPLY)."""
        return Fault.SILENCE not in self and Fault.ERROR_REPLY not in self

    @property
    def delay(self) -> float:
        rule = self.get(Fault.DELAY)
        return (rule.seconds or 0.0) if rule else 0.0

    @property
    def mtu(self) -> int | None:
        rule = self.get(Fault.MTU)
        return rule.mtu if rule else None

    @property
    def drop_before_reply(self) -> bool:
        return Fault.DROP_LINK_BEFORE_REPLY in self

    @property
    def drop_after_reply(self) -> bool:
        return Fault.DROP_LINK_AFTER_REPLY in self

    def transform(
        self,
        replies: Iterable[bytes],
        *,
        error_reply: Callable[[int], bytes],
        push_frame: Callable[[], bytes],
    ) -> list[bytes]:
        """The byte strings to notify, in order, instead of the device's ``replies``.

        ``error_reply(error)`` builds the device's failure reply to this request
        and ``push_frame()`` an unsolicited frame; they are only called when
        ERROR_REPLY / PUSH_BEFORE_REPLY fired. Each returned item is chunked
        separately (a partial frame is one short item).
        """
        if self.drop_before_reply:
            return []
        frames = list(replies)
        if (rule := self.get(Fault.ERROR_REPLY)) is not None:
            assert rule.error is not None  # checked by FaultRule
            frames = [error_reply(rule.error)]
        if Fault.SILENCE in self:
            frames = []
        if Fault.UNDECRYPTABLE_REPLY in self:
            frames = [garble_ciphertext(frame) for frame in frames]
        if Fault.CORRUPT_CRC in self:
            frames = [corrupt_crc(frame) for frame in frames]
        if (rule := self.get(Fault.PARTIAL_FRAME)) is not None and frames:
            frames = [truncate_frame(frames[0], rule.keep)]
        if Fault.DUPLICATE_NOTIFICATION in self:
            frames = [copy for frame in frames for copy in (frame, frame)]
        if Fault.PUSH_BEFORE_REPLY in self:
            frames.insert(0, push_frame())
        return frames


class FaultPlan:
    """The armed fault rules of one device, with their counters.

    Sans-IO: transports call :meth:`on_request` for every complete request
    frame, :meth:`on_write` for every write, and :meth:`take` at each link
    occasion (scan session, connection attempt, service discovery,
    ``start_notify``); each call consumes what fires. :attr:`history` keeps
    what fired, in order, as evidence for reports.
    """

    def __init__(self) -> None:
        self._armed: list[_Armed] = []
        self._history: list[FiredFault] = []

    def __repr__(self) -> str:
        rules = ", ".join(
            f"{armed.rule.fault.name}(left={armed.remaining})" for armed in self._armed
        )
        return f"FaultPlan([{rules}])"

    def __len__(self) -> int:
        return len(self._armed)

    def add(
        self,
        fault: Fault,
        *,
        command: int | None = None,
        times: int | None = 1,
        skip: int = 0,
        seconds: float | None = None,
        error: int | None = None,
        mtu: int | None = None,
        keep: int | None = None,
        characteristic: str | None = None,
    ) -> FaultRule:
        """Arm ``fault``; returns the rule (for :meth:`remove` / :meth:`remaining`).

        ``command`` = opcode the rule waits for (``None`` = any request);
        ``times`` = matches it fires for (``None`` = always); ``skip`` = matches
        to let pass first. Raises :class:`InvalidFault` for a rule that cannot apply.
        """
        rule = FaultRule(
            fault,
            command=command,
            times=times,
            skip=skip,
            seconds=seconds,
            error=error,
            mtu=mtu,
            keep=keep,
            characteristic=characteristic,
        )
        self._armed.append(_Armed(rule))
        return rule

    def remove(self, rule: FaultRule) -> bool:
        """Disarm ``rule``; False if it was not armed (e.g. already used up)."""
        for armed in self._armed:
            if armed.rule is rule:
                self._armed.remove(armed)
                return True
        return False

    def clear(self) -> None:
        """Disarm every rule (the history stays)."""
        self._armed.clear()

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The rules still armed, in the order they were added."""
        return tuple(armed.rule for armed in self._armed)

    def remaining(self, rule: FaultRule) -> int | None:
        """How many more times ``rule`` fires: ``None`` = always, 0 = disarmed."""
        for armed in self._armed:
            if armed.rule is rule:
                return armed.remaining
        return 0

    @property
    def history(self) -> tuple[FiredFault, ...]:
        return tuple(self._history)

    def on_request(self, command: int) -> RequestFaults:
        """Decide (and consume) the request faults for one complete request frame."""
        fired: list[FaultRule] = []
        for armed in list(self._armed):
            rule = armed.rule
            if rule.fault.is_link_level or not rule.matches(command):
                continue
            if armed.skipped < rule.skip:
                armed.skipped += 1
                continue
            if any(done.fault is rule.fault for done in fired):
                continue
            self._fire(armed, command)
            fired.append(rule)
        return RequestFaults(command, tuple(fired))

    def on_write(self, command: int | None) -> FaultRule | None:
        """Decide (and consume) WRITE_FAILED for one write.

        ``command`` is the opcode of the frame the write belongs to, when its
        header is already buffered (see :func:`frame_command`), else ``None``.
        """
        return self._take_first(Fault.WRITE_FAILED, command)

    def take(self, fault: Fault) -> FaultRule | None:
        """Consume one occasion of link fault ``fault``; the rule if it fires."""
        if not fault.is_link_level:
            raise InvalidFault(
                f"Fault.{fault.name} applies to requests: transports use on_request()"
            )
        return self._take_first(fault, None)

    def _take_first(self, fault: Fault, command: int | None) -> FaultRule | None:
        for armed in list(self._armed):
            rule = armed.rule
            if rule.fault is not fault or not rule.matches(command):
                continue
            if armed.skipped < rule.skip:
                armed.skipped += 1
                return None
            self._fire(armed, command)
            return rule
        return None

    def _fire(self, armed: _Armed, command: int | None) -> None:
        self._history.append(FiredFault(armed.rule, command))
        if armed.remaining is not None:
            armed.remaining -= 1
            if armed.remaining == 0:
                self._armed.remove(armed)


# --- byte surgery on frames (docs/protocol.md §2) ----------------------------------
# Where the opcode, the length and the CRC sit in each layout is protocol.frame's to know
# (its construct declarations and frame_size): the surgery parses and rebuilds frames with
# that codec instead of reading offsets of its own.


def _parsed(frame: bytes) -> Frame:
    """``frame`` (exactly one complete frame) through the codec, whatever its CRC says."""
    try:
        return parse_frame(frame)
    except CrcMismatch as exc:
        bad = exc.frame  # the codec parsed it before judging the CRC
    if not isinstance(bad, LockFrame | LegacyLockFrame | GatewayFrame):  # pragma: no cover
        raise InvalidFault(f"the codec returned no frame for {frame.hex()}")
    return bad


def frame_command(buffer: bytes) -> int | None:
    """Opcode of the frame starting at ``buffer[0]``, or ``None`` if not yet buffered.

    The opcode is in the header of every layout (docs/protocol.md §2.1–2.3): it is
    known as soon as :func:`~ttlock_hil.protocol.frame.frame_size` can size the frame,
    before the payload has arrived. ``None`` too when ``buffer`` does not start with a
    frame magic.
    """
    if buffer[:2] not in (LOCK_MAGIC, GATEWAY_MAGIC):
        return None
    size = frame_size(buffer)
    if size is None:
        return None
    # Payload bytes still in flight are stood in for by zeros: the codec then reads the
    # header; the CRC verdict on the stand-in does not matter here.
    return _parsed(bytes(buffer[:size]).ljust(size, b"\0")).command


def _frame_size(frame: bytes) -> int:
    """The size of the complete frame at the start of ``frame`` (without a trailer)."""
    if frame[:2] not in (LOCK_MAGIC, GATEWAY_MAGIC):
        raise InvalidFault(f"cannot inject into {frame[:2].hex()}…: not a TTLock frame")
    size = frame_size(frame)
    if size is None or len(frame) < size:
        raise InvalidFault(f"cannot inject into a truncated frame ({len(frame)} bytes)")
    return size


def corrupt_crc(frame: bytes) -> bytes:
    """``frame`` with its CRC byte (the last byte of the frame) inverted, any trailer kept."""
    size = _frame_size(frame)
    return frame[: size - 1] + bytes([frame[size - 1] ^ 0xFF]) + frame[size:]


def garble_ciphertext(frame: bytes) -> bytes:
    """``frame`` with a payload no key decrypts, length byte and CRC made valid again.

    With two or more AES blocks, bit 7 of the second-to-last block's last byte
    is flipped: in CBC that flips the same bit of the padding byte, which then
    is >= 0x81 and can never be valid PKCS#7 padding, whatever the key. A
    shorter payload loses its last byte (no longer a whole number of blocks).
    """
    size = _frame_size(frame)
    parsed = _parsed(frame[:size])
    payload = bytearray(parsed.payload)
    if len(payload) >= 32 and len(payload) % 16 == 0:
        payload[-17] ^= 0x80
    elif payload:
        del payload[-1]
    else:
        payload = bytearray(15)
    if isinstance(parsed, LockFrame):
        rebuilt = build_lock_frame(
            parsed.command, bytes(payload), header=parsed.header, encrypt=parsed.encrypt
        )
    elif isinstance(parsed, GatewayFrame):
        rebuilt = build_gateway_frame(parsed.command, bytes(payload))
    else:
        raise InvalidFault(
            "cannot garble a legacy frame: it is XOR-coded, not encrypted (docs/protocol.md §3.3)"
        )
    return rebuilt + frame[size:]


def truncate_frame(frame: bytes, keep: int | None = None) -> bytes:
    """The first ``keep`` bytes of ``frame`` (default half), always short of complete."""
    size = _frame_size(frame)
    count = max(1, size // 2) if keep is None else keep
    return frame[: min(count, size - 1)]

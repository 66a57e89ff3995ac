"""Errors raised by the harness: one root, typed fields, advice that says what to do.

Two families hang off :class:`HarnessError`:

* :class:`ConfigError` — the lab configuration or a credentials source is wrong.
  Its message is one line naming the file, the line, the field and the fix::

      hil-config.yaml:12: devices[1].credentials: inline secrets are not allowed — fix: …

* :class:`TTLockError` — a device operation ended with a TTLock error code.
  It carries ``.code`` (the :class:`ttlock_hil.protocol.codes.ErrorCode` registry entry:
  number, Chinese and English text, category), ``.command`` (the opcode or
  ``None``), ``.raw_reply`` (the reply frame, if one arrived), ``.trace_path``,
  ``.device`` and ``.advice`` (what a lab engineer should do about it).

  :class:`DeviceError` means the device answered with an error byte or status
  (docs/protocol.md §5.1/§5.2). Every other subclass is a link or parse condition
  the harness detected itself (:class:`ttlock_hil.protocol.errormap.LinkCondition`, §5.3);
  those inherit the builtin they resemble, so ``except TimeoutError`` catches
  :class:`ConnectTimeout` and :class:`ResponseTimeout`, ``except
  ConnectionError`` catches :class:`Disconnected`, :class:`WriteFailed` and
  :class:`NotifyFailed`.

The session layer raises link errors from a condition with :func:`link_error`
(or ``ConnectTimeout.mapped(plugin_version, …)``), which looks the code up in
the mapping table for the configured plugin version; device errors come from
:meth:`DeviceError.from_answer`, for locks and gateways alike.
:data:`TRANSIENT_ERRORS` names the errors a retry policy may retry while a link is being
*established* (a first connect that times out is routine on BlueZ); a command and its
reply are never retried (a 3 s assertion stays 3 s, an UNLOCK is never sent twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Final, Self

from ttlock_hil.protocol.app import answer_code
from ttlock_hil.protocol.codes import Code, ErrorCode, VersionLike
from ttlock_hil.protocol.commands import command_name
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errormap import LinkCondition, link_code


class HarnessError(Exception):
    """Root of every error raised by :mod:`harness`."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions with keyword-only constructors do not survive pickling by
        # default (pytest-xdist, multiprocessing); rebuild them from their fields.
        return (_restore, (type(self), dict(self.__dict__)))


class SessionClosed(HarnessError, RuntimeError):
    """A session (or the Lab that owns it) was closed and then used again.

    ``lab.aclose()`` closes every session the lab opened; a ``Lock`` or ``Gateway``
    built on one of them cannot reconnect. Build a new one with ``lab.lock(name)``.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        super().__init__(
            f"{device}: this session was closed (lab.aclose() or session.aclose()) — fix: get "
            f"a new one with lab.lock({device!r}) / lab.gateway({device!r})"
        )


class ConfigError(HarnessError):
    """The lab configuration (or a credentials source it names) is unusable.

    Fields: ``file`` (path as the user gave it, or ``None``), ``line`` (1-based,
    or ``None``), ``field`` (dotted path such as ``devices[1].credentials``),
    ``message`` (what is wrong) and ``fix`` (what to do). ``str(err)`` renders
    them as one line so a CLI can print it without a traceback.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else Path(file)
        self.line = line
        self.field = field
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file) + (f":{self.line}" if self.line is not None else "")
        elif self.line is not None:
            where = f"line {self.line}"
        parts = [p for p in (where, self.field) if p]
        text = ": ".join([*parts, self.message])
        if self.fix:
            text += f" — fix: {self.fix}"
        return text

    def __str__(self) -> str:
        return self._render()

    def located(
        self,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> ConfigError:
        """A copy with the location filled in where this error has none.

        Lets a loader that knows only the field (e.g. a credentials file parser)
        raise, and the caller that knows the YAML line add it.
        """
        return ConfigError(
            self.message,
            file=self.file if self.file is not None else file,
            line=self.line if self.line is not None else line,
            field=self.field if self.field is not None else field,
            fix=self.fix,
        )


def _restore(cls: type[HarnessError], state: dict[str, Any]) -> HarnessError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = (str(error),)
    return error


class TTLockError(HarnessError):
    """A device operation ended with a TTLock error code.

    ``code`` is the registry entry (``err.code.code`` is the number, ``.en``
    and ``.zh`` the texts, ``.category`` the category); compare it with
    :class:`ttlock_hil.protocol.codes.Code` members: ``err.code.code == Code.EKEY_EXPIRED``.
    ``command`` is the opcode (a :class:`~ttlock_hil.protocol.commands.LockCommand` /
    :class:`~ttlock_hil.protocol.commands.GatewayCommand` member reads best; a plain int
    is named as a lock opcode). ``trace_path`` may be set after construction by
    the session that owns the trace.
    """

    default_advice: ClassVar[str] = "read the code's text and the frame trace"
    condition: ClassVar[LinkCondition | None] = None
    """The link condition this class stands for (``None`` for :class:`DeviceError`)."""

    def __init__(
        self,
        message: str = "",
        *,
        code: ErrorCode,
        command: int | None = None,
        raw_reply: bytes | None = None,
        trace_path: Path | str | None = None,
        device: str | None = None,
        advice: str | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.command = command
        self.raw_reply = bytes(raw_reply) if raw_reply is not None else None
        self.trace_path = Path(trace_path) if trace_path is not None else None
        self.device = device
        self.advice = advice if advice is not None else self.default_advice
        super().__init__(self.summary)

    @classmethod
    def mapped(
        cls,
        plugin_version: VersionLike,
        message: str = "",
        *,
        command: int | None = None,
        raw_reply: bytes | None = None,
        trace_path: Path | str | None = None,
        device: str | None = None,
        advice: str | None = None,
    ) -> Self:
        """An instance of a link-error class with the code its condition maps to.

        ``ResponseTimeout.mapped("3.1.0", device="front-door", command=LockCommand.UNLOCK)``
        carries code 10017; with ``"2.6.0"`` it carries −3 (docs/protocol.md §5.3).
        """
        if cls.condition is None:
            raise TypeError(f"{cls.__name__} has no link condition: pass code= instead")
        return cls(
            message,
            code=link_code(cls.condition, plugin_version),
            command=command,
            raw_reply=raw_reply,
            trace_path=trace_path,
            device=device,
            advice=advice,
        )

    @property
    def command_name(self) -> str | None:
        """``"UNLOCK"`` for 0x47, ``"ECHO"`` for a GatewayCommand member, None without one."""
        if self.command is None:
            return None
        if isinstance(self.command, IntEnum):
            return self.command.name
        return command_name(self.command)

    @property
    def summary(self) -> str:
        """The first line of ``str(err)``: device, command, code number and text."""
        where = f"{self.device}: " if self.device else ""
        if self.command is not None:
            what = f"{self.command_name} (0x{int(self.command):02x}) failed"
        else:
            what = "failed"
        text = f"{where}{what} with code {self.code.code} {self.code.name} ({self.code.en})"
        if self.message:
            text += f": {self.message}"
        return text

    def __str__(self) -> str:
        lines = [self.summary]
        if self.advice:
            lines.append(f"  advice: {self.advice}")
        if self.trace_path is not None:
            lines.append(f"  trace: {self.trace_path}")
        return "\n".join(lines)


# Advice for the device codes a bench meets most; others get the class default.
DEVICE_ADVICE: Final[Mapping[int, str]] = MappingProxyType(
    {
        Code.CRC_ERROR: "the lock received a corrupted frame: move the adapter closer and retry",
        Code.NO_PERMISSION: "these credentials are not an admin of this lock: "
        "check credentials: in hil-config.yaml or re-initialise the lock",
        Code.ADMIN_CHECK_FAILED: "wrong admin password: the lock was probably re-initialised "
        "by someone else; fix credentials or reset and re-initialise it",
        Code.IN_SETTING_MODE: "the lock is in setting mode (not initialised): run init() first",
        Code.NO_ADMIN: "the lock has no administrator: run init() first",
        Code.NOT_IN_SETTING_MODE: "the lock is not in setting mode: touch the keypad to wake "
        "it, or reset it (it already has an administrator)",
        Code.LOW_BATTERY: "the lock's battery is low: replace the batteries or power the bench",
        Code.EKEY_FLAG_TOO_LOW: "the lock flag position is out of date: "
        "update lock_flag_pos in the credentials",
        Code.LOCK_FROZEN: "the lock is frozen: unfreeze it before testing other commands",
        Code.INVALID_VENDOR: "the lock expects a custom vendor string for GET_AES_KEY",
        Code.DOUBLE_LOCKED: "the door is double-locked from inside: release it at the door",
    }
)


class DeviceError(TTLockError):
    """The device answered, and its answer was an error byte (§5.1) or status (§5.2).

    ``error_byte`` is the byte as received (lock reply plaintext[2] or gateway
    status plaintext[0]); ``code`` is what the plugin version maps it to.
    """

    default_advice = (
        "the device refused the command: see the code's text; the reply is in the trace"
    )

    def __init__(
        self,
        message: str = "",
        *,
        code: ErrorCode,
        error_byte: int | None = None,
        command: int | None = None,
        raw_reply: bytes | None = None,
        trace_path: Path | str | None = None,
        device: str | None = None,
        advice: str | None = None,
    ) -> None:
        self.error_byte = error_byte
        if advice is None:
            advice = DEVICE_ADVICE.get(code.code)
        super().__init__(
            message,
            code=code,
            command=command,
            raw_reply=raw_reply,
            trace_path=trace_path,
            device=device,
            advice=advice,
        )

    @classmethod
    def from_answer(
        cls,
        kind: DeviceKind,
        error_byte: int | None,
        plugin_version: VersionLike,
        *,
        command: int | None = None,
        raw_reply: bytes | None = None,
        trace_path: Path | str | None = None,
        device: str | None = None,
    ) -> DeviceError:
        """The error for a device's answer that is not a success (docs/protocol.md §5.1, §5.2).

        ``error_byte`` is a lock reply's error byte (``None``: a failed reply without
        one) or a gateway reply's status byte. The code comes from
        :func:`ttlock_hil.protocol.app.answer_code`, the mapping the app role puts on
        its events, fallbacks included.
        """
        if kind is DeviceKind.GATEWAY:
            message = f"gateway status {error_byte}"
        elif error_byte is None:
            message = "failed reply without an error byte"
        else:
            message = f"lock error byte 0x{error_byte:02x}"
        return cls(
            message,
            code=answer_code(kind, error_byte, plugin_version),
            error_byte=error_byte,
            command=command,
            raw_reply=raw_reply,
            trace_path=trace_path,
            device=device,
        )


# --- link and parse conditions (docs/protocol.md §5.3) -------------------------------


class ConnectTimeout(TTLockError, TimeoutError):
    """No connection within the connect deadline."""

    condition = LinkCondition.CONNECT_TIMEOUT
    default_advice = (
        "lock out of range or asleep: touch the keypad to wake it, "
        "check the address in hil-config.yaml"
    )


class ResponseTimeout(TTLockError, TimeoutError):
    """The request was written but no reply arrived within the command deadline."""

    condition = LinkCondition.RESPONSE_TIMEOUT
    default_advice = (
        "the device took the request but did not answer in time: it may have gone to "
        "sleep or out of range; touch the keypad, check timeouts.command in hil-config.yaml, "
        "and see the request in the trace"
    )


class Disconnected(TTLockError, ConnectionError):
    """The link dropped while a command was pending (or before it could be sent)."""

    condition = LinkCondition.DISCONNECTED
    default_advice = (
        "the link dropped: move the adapter closer, check the battery, "
        "and close any phone app connected to the device"
    )


class WriteFailed(TTLockError, ConnectionError):
    """A GATT write of a request chunk failed."""

    condition = LinkCondition.WRITE_FAILED
    default_advice = "the GATT write failed: reconnect; if it persists, reset the Bluetooth adapter"


class NotifyFailed(TTLockError, ConnectionError):
    """Subscribing to the notify characteristic failed."""

    condition = LinkCondition.NOTIFY_ENABLE_FAILED
    default_advice = (
        "could not subscribe to notifications: another central (a phone app) may hold the "
        "device; close it, or reset the Bluetooth adapter"
    )


class ServiceMissing(TTLockError, LookupError):
    """The connected device does not expose the TTLock GATT service."""

    condition = LinkCondition.SERVICE_MISSING
    default_advice = (
        "the TTLock service is not there: check that the address in hil-config.yaml is a "
        "TTLock lock or gateway; on Linux clear the GATT cache (bluetoothctl remove <address>)"
    )


class CharacteristicMissing(TTLockError, LookupError):
    """The TTLock service is there but a characteristic it needs is not."""

    condition = LinkCondition.CHARACTERISTIC_MISSING
    default_advice = (
        "a TTLock characteristic is missing: the GATT cache is probably stale; "
        "on Linux run bluetoothctl remove <address> and reconnect"
    )


class DeviceNotFound(TTLockError, LookupError):
    """The scan ended without seeing the device."""

    condition = LinkCondition.DEVICE_NOT_FOUND
    default_advice = (
        "device not seen: check it is powered and in range, touch the keypad to wake it, "
        "and check its address in hil-config.yaml"
    )


class Busy(TTLockError):
    """Another command is still in flight on this device (one at a time, by design)."""

    condition = LinkCondition.BUSY
    default_advice = "another command is in flight on this device: await it before the next one"


class ReplyCrcError(TTLockError):
    """A reply frame arrived with a wrong CRC-8 (docs/protocol.md §2.4)."""

    condition = LinkCondition.REPLY_CRC_ERROR
    default_advice = (
        "the reply was corrupted: move the adapter closer; a CRC error on every reply to one "
        "command points at the firmware (the frame is in the trace)"
    )


class ReplyUndecryptable(TTLockError):
    """The reply could not be AES-decrypted with the lock's key."""

    condition = LinkCondition.REPLY_UNDECRYPTABLE
    default_advice = (
        "the lock was probably reset or these are another lock's credentials: "
        "re-initialise it or fix credentials"
    )


class ReplyUnparseable(TTLockError):
    """The reply decrypted but is not a valid reply envelope for the command."""

    condition = LinkCondition.REPLY_UNPARSEABLE
    default_advice = (
        "the reply has a layout the harness does not know (new firmware?): "
        "attach the trace to a bug report"
    )


class InvalidParameters(TTLockError, ValueError):
    """The caller's arguments cannot be encoded for this command."""

    condition = LinkCondition.INVALID_PARAMETERS
    default_advice = "fix the arguments named in the message"


class Unsupported(TTLockError):
    """The device's feature bits do not include the requested operation."""

    condition = LinkCondition.UNSUPPORTED
    default_advice = (
        "the device does not support this operation: check its features in hil-config.yaml"
    )


LINK_ERRORS: Final[Mapping[LinkCondition, type[TTLockError]]] = MappingProxyType(
    {
        cls.condition: cls
        for cls in (
            ConnectTimeout,
            ResponseTimeout,
            Disconnected,
            WriteFailed,
            NotifyFailed,
            ServiceMissing,
            CharacteristicMissing,
            DeviceNotFound,
            Busy,
            ReplyCrcError,
            ReplyUndecryptable,
            ReplyUnparseable,
            InvalidParameters,
            Unsupported,
        )
        if cls.condition is not None
    }
)
"""Which exception class the session raises for each link condition."""


def link_error(
    condition: LinkCondition | str,
    plugin_version: VersionLike,
    message: str = "",
    *,
    command: int | None = None,
    raw_reply: bytes | None = None,
    trace_path: Path | str | None = None,
    device: str | None = None,
    advice: str | None = None,
) -> TTLockError:
    """The exception for ``condition``, carrying the code of ``plugin_version``.

    ``raise link_error(LinkCondition.DISCONNECTED, "3.1.0", device=name) from exc``
    raises a :class:`Disconnected` (a ``ConnectionError``) with code 10003.
    """
    cls = LINK_ERRORS[LinkCondition(condition)]
    return cls.mapped(
        plugin_version,
        message,
        command=command,
        raw_reply=raw_reply,
        trace_path=trace_path,
        device=device,
        advice=advice,
    )


TRANSIENT_ERRORS: Final[Mapping[str, type[TTLockError]]] = MappingProxyType(
    {
        cls.__name__: cls
        for cls in (
            Disconnected,
            WriteFailed,
            NotifyFailed,
            ServiceMissing,
            CharacteristicMissing,
            Busy,
            ConnectTimeout,
            DeviceNotFound,
        )
    }
)
"""Errors a retry policy may name (``retry.retry_on`` in hil-config.yaml).

Link hiccups that a reconnect or a short wait cures (bleak-retry-connector's
lesson: BlueZ drops links, serves half-discovered services, and a first connect
attempt or scan comes up empty now and then; its ``establish_connection`` retries
timeouts and missing devices too). They are retried only while connecting, within
the connect budget (``retry.attempts`` and ``retry.budget``), and every retry is
traced and counted in the results. Not here, on purpose: the response timeout
(the request may have run), CRC and parse errors (a retry would resend a
non-idempotent command such as UNLOCK and hide firmware bugs, §2.4), and
:class:`DeviceError` (the device's answer is the result).
"""

NEVER_RETRIED: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ResponseTimeout": "a command is never retried: the request may have been executed",
        "ReplyCrcError": "the command may have run; resending it could repeat an unlock",
        "ReplyUndecryptable": "wrong credentials do not get better on retry",
        "ReplyUnparseable": "an unknown reply layout does not get better on retry",
        "DeviceError": "the device's answer is the result under test",
        "InvalidParameters": "the same arguments fail the same way",
        "Unsupported": "the device's features do not change on retry",
    }
)
"""Why each of the other error classes cannot be named in ``retry.retry_on``."""

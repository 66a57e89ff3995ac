"""The virtual lock's state, and what every feature does with it.

:class:`LockModel` is everything a V3 lock holds:

* its **memory** (:class:`LockMemory`): the pairing, the keypad, the enrolled
  cards and fingerprints, the operate log and the settings — kept across
  connections, forgotten by a factory reset (0x52 RESET_LOCK);
* the **link session** (:class:`LinkSession`): the login challenge and uid and
  an add mode — lost with the link (docs/protocol.md §4.3: a login per connection);
* the lock-role **connection state** (:class:`ttlock_hil.protocol.connection.LockConnection`,
  the state table the app role shares): setting mode, key choice, who logged in;
* the **physical conditions** a bench may change, declared as bench settings
  (:mod:`ttlock_hil.harness.sim.bench_settings`): battery, frozen, double-locked,
  flag position, the keypad's delete code;
* the bolt, its clock and its randomness (injected).

Each feature keeps its part of the memory and its handlers in a module of its
own (``lock_admin``, ``lock_info``, ``lock_passcodes``, ``lock_cards``,
``lock_log``, ``lock_settings``); their handlers are functions of a
``LockModel`` and a request. :mod:`~ttlock_hil.harness.sim.lock_pipeline` turns
bytes into handler calls, :mod:`~ttlock_hil.harness.sim.lock_bench` is what a
person at the door does, and :class:`~ttlock_hil.harness.sim.lock.VirtualLock`
is this model with its transport-facing face.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from ttlock_hil.protocol.connection import Auth, KeyChoice, LockConnection
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY, parse_mac
from ttlock_hil.protocol.frame import LockHeader
from ttlock_hil.protocol.messages import Feature, LockDate, LogRecord, Reply
from ttlock_hil.protocol.messages import LockState as BoltState

from .bench_settings import BenchSetting
from .device import Clock, ManualClock
from .lock_admin import Pairing
from .lock_cards import AddMode, Enrolments, TemplateUpload
from .lock_hotel import HotelState, NbState
from .lock_log import OperateLog
from .lock_passcodes import Keypad
from .lock_settings import LockSettings
from .lock_wifi import WifiState
from .presets import LockPreset, PresetError, RandomSource

__all__ = ["LinkSession", "LockMemory", "LockModel"]

_ADMIN_CODE_DIGITS: Final = 7


@dataclass(slots=True)
class LinkSession:
    """Per-connection state: lost with the link (docs/protocol.md §4.3: login each connection)."""

    challenge: int | None = None
    """The ``ps`` this connection's login was given (0x41 / 0x55)."""
    challenge_is_admin: bool = False
    """Whether that ps answered 0x41 (the admin's) rather than 0x55 (an e-key's): it
    decides who 0x47/0x58 open as, even on a connection that stays admin (deviation 4)."""
    uid: int = 0
    """The uid the login presented (recorded with app operations)."""
    add_mode: AddMode | None = None
    """What the reader or sensor enrols next (0x05/0x06 op 2)."""
    touches: int = 0
    """Touches of the sensor so far in this fingerprint enrolment."""
    template: TemplateUpload | None = None
    """A fingerprint template being uploaded (0x06 op 2 header, then op 7 chunks)."""


@dataclass(slots=True)
class LockMemory:
    """What the lock keeps across connections until a factory reset, one part per feature."""

    pairing: Pairing = field(default_factory=Pairing)
    keypad: Keypad = field(default_factory=Keypad)
    enrolments: Enrolments = field(default_factory=Enrolments)
    log: OperateLog = field(default_factory=OperateLog)
    settings: LockSettings = field(default_factory=LockSettings)
    wifi: WifiState = field(default_factory=WifiState)
    hotel: HotelState = field(default_factory=HotelState)
    nb: NbState = field(default_factory=NbState)


def random_source(rng: RandomSource | None) -> Callable[[int], bytes]:
    """``n -> n random bytes`` from a :data:`~ttlock_hil.harness.sim.presets.RandomSource`."""
    if rng is None:
        return random.Random().randbytes
    if isinstance(rng, random.Random):
        return rng.randbytes
    if callable(rng):
        return rng
    raise PresetError(f"rng must be a random.Random or a callable n -> bytes, got {rng!r}")


class LockModel:
    """A V3 lock's state (see the module docstring); the features' handlers act on it.

    ``preset`` says what the lock is; ``name``/``address`` are its advertised
    name and MAC; ``clock`` and ``rng`` its time and randomness.
    """

    # Bench settings (docs/architecture.md §5): the physical conditions a bench may change,
    # checked on every assignment and restored by VirtualBench after a test.
    battery = BenchSetting[int](
        int,
        "Battery percentage (assign to simulate a draining battery); at or below the preset's "
        "low_battery, unlock and lock fail with 0x0A.",
        valid=range(101),
    )
    frozen = BenchSetting[bool](
        bool, "Frozen locks refuse non-admin unlocks with 0x1C (28).", default=False
    )
    double_locked = BenchSetting[bool](
        bool,
        "Double-locked (LOCK_REVERSE) locks refuse non-admin unlocks with 0x1E (30).",
        default=False,
    )
    lock_flag_pos = BenchSetting[int](
        int,
        "The lock's flag position: e-keys and admins presenting a lower one get 0x0D.",
        default=0,
        valid=range(0x100_0000),
    )
    delete_passcode = BenchSetting[str | None](
        (str, type(None)),
        "Keypad delete code (V2S 0x44 has no V3 layout: set it here); 0x53 refuses it (0x10).",
        default=None,
        valid=lambda code: code is None or (code.isdigit() and 4 <= len(code) <= 9),
        expect="4..9 digits or None",
        secret=True,
    )

    def __init__(
        self,
        preset: LockPreset,
        *,
        name: str,
        address: str,
        clock: Clock | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        self._preset = preset
        self._address = ":".join(f"{b:02X}" for b in parse_mac(address))
        self._name = name
        self.tag = f"{name} ({self._address})"
        """Prefix of this lock's log messages."""
        self._header = preset.header
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.random = random_source(rng)
        """``n -> n random bytes``: AES keys, login challenges, fingerprint ids, admin codes."""
        self.battery = preset.battery
        self._unlocked_at: datetime | None = None
        self._clock_offset = timedelta(0)
        self.connection = LockConnection(setting_mode=True, operate_refusal=preset.operate_refusal)
        self.session = LinkSession()
        self.pushes: list[bytes] = []
        """Unsolicited frames waiting for the transport (``take_pushes``)."""
        self.delayed: list[tuple[datetime, bytes]] = []
        """Unsolicited frames due at a device-clock time (a Wi-Fi join's outcome)."""
        self.frame_reply: Callable[[Reply], bytes] | None = None
        """Frames a reply under the current key (set by the lock that hosts this model)."""
        self.memory = LockMemory()

    def wipe(self) -> None:
        """Forget everything stored: no key, no admin, no credentials, factory settings."""
        self.memory = LockMemory()
        self.lock_flag_pos = 0

    def push(self, reply: Reply, *, after: float = 0.0) -> None:
        """Send ``reply`` unsolicited on the current connection, ``after`` s of device clock
        from now (nothing when nobody is connected: the link carries it or nothing does)."""
        if not self.connection.connected or self.frame_reply is None:
            return
        frame = self.frame_reply(reply)
        if after <= 0:
            self.pushes.append(frame)
        else:
            self.delayed.append((self.clock.now() + timedelta(seconds=after), frame))

    def due_pushes(self) -> list[bytes]:
        """Every unsolicited frame due now, in order; they leave the queue."""
        now = self.clock.now()
        due = [frame for when, frame in self.delayed if when <= now]
        self.delayed = [(when, frame) for when, frame in self.delayed if when > now]
        pushes, self.pushes = [*self.pushes, *due], []
        return pushes

    def new_session(self) -> None:
        """A fresh per-connection state (a new link, or a reset)."""
        self.session = LinkSession()

    # --- what the lock is --------------------------------------------------------------

    @property
    def name(self) -> str:
        """Advertised local name, e.g. ``S202F_f69a04`` (docs/protocol.md §6)."""
        return self._name

    @property
    def address(self) -> str:
        """BLE address, upper case."""
        return self._address

    @property
    def preset(self) -> LockPreset:
        return self._preset

    @property
    def header(self) -> LockHeader:
        """The header this lock puts on its replies."""
        return self._header

    @property
    def setting_mode(self) -> bool:
        """True until an admin is added (the advert's setting-mode bit)."""
        return self.connection.setting_mode

    @property
    def auth(self) -> Auth:
        """What the current connection has proved."""
        return self.connection.auth

    def operates_as_admin(self) -> bool:
        """Whether 0x47/0x58 now open as the admin (the challenge came from 0x41)."""
        return self.session.challenge_is_admin

    # --- keys -------------------------------------------------------------------------

    def key(self, choice: KeyChoice) -> bytes:
        """The AES key a choice of the state table stands for (the default one until paired)."""
        aes_key = self.memory.pairing.aes_key
        if choice is KeyChoice.DEFAULT or aes_key is None:
            return DEFAULT_LOCK_KEY
        return aes_key

    def key_for(self, command: int) -> bytes:
        """The key a request with ``command`` is decrypted and answered with."""
        return self.key(self.connection.key_for(command))

    def current_key(self) -> bytes:
        """The key in force for unsolicited frames."""
        return self.key(self.connection.key_choice)

    # --- time and the bolt --------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The lock's own clock (the injected clock plus what 0x43 or :meth:`set_time` set)."""
        return self.clock.now() + self._clock_offset

    def set_time(self, when: datetime) -> None:
        """Set the lock's clock (as a TIME_CALIBRATE would)."""
        self._clock_offset = when - self.clock.now()

    def lock_date(self) -> LockDate:
        return LockDate.of(self.now)

    def settle(self) -> None:
        """Apply what time did: the auto-lock closes the bolt after its delay."""
        delay = self.memory.settings.auto_lock_seconds
        if self._unlocked_at is None or delay == 0:
            return
        if self.clock.now() >= self._unlocked_at + timedelta(seconds=delay):
            self._unlocked_at = None

    @property
    def unlocked(self) -> bool:
        """Whether the bolt is open (an auto-lock delay may close it)."""
        self.settle()
        return self._unlocked_at is not None

    def open_bolt(self) -> None:
        self._unlocked_at = self.clock.now()

    def close_bolt(self) -> None:
        self._unlocked_at = None

    def bolt_state(self) -> BoltState:
        return BoltState.UNLOCKED if self._unlocked_at is not None else BoltState.LOCKED

    # --- randomness -----------------------------------------------------------------------

    def random_u32(self) -> int:
        return int.from_bytes(self.random(4), "big")

    def new_admin_code(self) -> str | None:
        """Locks that report GET_ADMIN_CODE make their own keypad admin code (§4.3 step 6)."""
        if not self.preset.has(Feature.GET_ADMIN_CODE):
            return None
        return f"{self.random_u32() % 10**_ADMIN_CODE_DIGITS:0{_ADMIN_CODE_DIGITS}d}"

    # --- the log ------------------------------------------------------------------------

    def write_log(self, record: LogRecord) -> int:
        """Append ``record`` to the operate log; its record id."""
        return self.memory.log.write(record)

    def app_record(self, log_type: int) -> tuple[LogRecord, int]:
        """Log an operation of this connection's login; the record and its id."""
        record_id = self.memory.log.next_record_id
        record = LogRecord.app(
            log_type, self.lock_date(), self.battery, self.session.uid, record_id
        )
        self.write_log(record)
        return record, record_id

    def physical_unlock(
        self, success: LogRecord, reversed_: LogRecord
    ) -> tuple[bool, tuple[LogRecord, int] | None]:
        """Keypad/card/finger opening: refused when frozen, double-locked or flat.

        Returns whether the bolt opened and the log record written with its id (none
        when a frozen or flat lock ignores the attempt).
        """
        if self.frozen or self.battery <= self.preset.low_battery:
            return False, None
        if self.double_locked:
            return False, (reversed_, self.write_log(reversed_))
        self.open_bolt()
        return True, (success, self.write_log(success))

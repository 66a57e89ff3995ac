"""A virtual TTLock V3 lock: the lock role of :mod:`protocol` plus a state model.

Bytes in, frames out (sans-IO, :class:`~ttlock_hil.harness.sim.device.VirtualDevice`)::

    lock = VirtualLock("v3-keypad", rng=random.Random(7))        # setting mode
    replies = lock.receive(request_frame + b"\\r\\n")            # any chunking
    lock = VirtualLock.paired(aes_key=key, admin_ps=12345678, unlock_key=87654321)

Requests are decoded with :mod:`ttlock_hil.protocol.messages` (the very classes an app
uses), gated by :class:`ttlock_hil.protocol.connection.LockConnection` (the shared state
table) and answered with a reply frame: the lock's own header (e.g. 5.3.2.1.1),
command 0x54, encrypt 0xAA, plaintext ``[echo][status][data]`` encrypted with
the key in force when the request arrived, then ``0D 0A`` (docs/protocol.md §2.1,
§4.1). Time comes from an injected :class:`~ttlock_hil.harness.sim.device.Clock`;
randomness (AES keys, login challenges, fingerprint ids, the admin code) from
an injected :data:`~ttlock_hil.harness.sim.presets.RandomSource`.

The lock is built from parts, one responsibility each:

================  ====================================================================
``lock_pipeline``  receive → reassemble → CRC → decrypt → gate → dispatch → quirks →
                   encrypt; the order of the checks and the bytes each one answers
``lock_model``     the state (memory, link session, connection table, bench settings)
``lock_admin``     pairing, login, unlock/lock, reset (§4.3)
``lock_info``      status, features, clock, device info
``lock_passcodes`` keyboard passcodes and the admin code
``lock_cards``     IC cards and fingerprints
``lock_log``       the operate log and its paging
``lock_settings``  auto-lock, remote unlock, passcode display, audio, passage mode
``lock_bench``     bench actions: type a passcode, present a card or a finger
================  ====================================================================

Persisted state (pairing, passcodes, cards, fingerprints, log, settings)
survives :meth:`VirtualLock.on_disconnect`; the login does not. A key handed
out by GET_AES_KEY but never confirmed by ADD_ADMIN is forgotten with the link.
:meth:`receive` on a lock nobody connected to starts a connection implicitly
(handy for sans-IO use); transports call :meth:`on_connect` themselves.

The *bench* is what a test does to the physical lock: its settings (battery,
frozen, double-locked, flag position, delete code: declared bench settings,
:func:`~ttlock_hil.harness.sim.bench_settings.bench_settings`), its clock
(:meth:`~VirtualLock.set_time`), and actions — type a passcode, present a card
or a finger (which also completes the IC/fingerprint "add" flows: the second,
unsolicited reply then comes out of :meth:`~VirtualLock.take_pushes`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType

from ttlock_hil.protocol.advert import build_lock_advert, lock_local_name, split_for_bleak
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.connection import LockConnection, LockState
from ttlock_hil.protocol.crypto import KEY_SIZE, parse_mac
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.frame import LockHeader
from ttlock_hil.protocol.lockdata import LockData
from ttlock_hil.protocol.messages import LogRecord, PassageModeEntry, Reply, StatePush

from . import lock_bench
from .device import LOCK_GATT, Advertisement, Clock, GattProfile
from .lock_log import LOG_CAPACITY
from .lock_model import LockModel
from .lock_passcodes import StoredPasscode
from .lock_pipeline import FEATURE_OF_COMMAND, LockPipeline
from .lock_rules import PERMANENT, Validity, check_int
from .presets import DEFAULT_LOCK_PRESET, LockPreset, PresetError, RandomSource, get_preset

__all__ = [
    "FEATURE_OF_COMMAND",
    "LOG_CAPACITY",
    "PERMANENT",
    "DeviceError",
    "StoredPasscode",
    "Validity",
    "VirtualLock",
]

logger = logging.getLogger(__name__)

DeviceError = LockError
"""The lock error bytes the model answers: :class:`ttlock_hil.protocol.errormap.LockError`
(one definition for both roles, docs/protocol.md §5.1); this name is kept for callers."""

_U32_MAX = 0xFFFF_FFFF


class VirtualLock(LockModel):
    """A TTLock V3 lock model (see the module docstring for the rules it follows).

    Build one factory-fresh (setting mode) with ``VirtualLock(preset)``, or
    already paired with :meth:`paired` / :meth:`from_credentials`. ``preset``
    is a :class:`~ttlock_hil.harness.sim.presets.LockPreset` or its name (a
    firmware variant too: ``v3-keypad_unlock-refusal-2``); ``name`` and
    ``address`` override the advertised name and the MAC; ``clock`` is the
    device's time source (default: a ManualClock at 2026-01-01 12:00); ``rng``
    its randomness (a seeded ``random.Random`` or a callable ``n -> bytes``).
    """

    def __init__(
        self,
        preset: LockPreset | str = DEFAULT_LOCK_PRESET,
        *,
        name: str | None = None,
        address: str | None = None,
        clock: Clock | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        record = get_preset(preset) if isinstance(preset, str) else preset
        if not isinstance(record, LockPreset):
            raise PresetError(
                f"preset {record.name!r} is not a lock preset; use VirtualGateway for gateways"
            )
        mac = ":".join(f"{b:02X}" for b in parse_mac(address or record.mac))
        super().__init__(
            record,
            name=name or lock_local_name(record.name_prefix, mac),
            address=mac,
            clock=clock,
            rng=rng,
        )
        self._pipeline = LockPipeline(self)
        self.frame_reply = self._frame_reply
        # advertisement(): the inputs of the last advert built and its bytes, split for bleak.
        self._advert_inputs: tuple[object, ...] | None = None
        self._advert_bytes: tuple[int, bytes] = (0, b"")

    # --- construction --------------------------------------------------------------

    @classmethod
    def paired(
        cls,
        *,
        aes_key: bytes,
        admin_ps: int,
        unlock_key: int,
        lock_flag_pos: int = 0,
        uid: int = 0,
        header: LockHeader | str | None = None,
        preset: LockPreset | str = DEFAULT_LOCK_PRESET,
        name: str | None = None,
        address: str | None = None,
        clock: Clock | None = None,
        rng: RandomSource | None = None,
    ) -> VirtualLock:
        """A lock already initialised with these credentials (docs/protocol.md §4.3 lockData).

        ``header`` is the lock's own protocol header, put on every reply
        (default: the preset's, e.g. 5.3.2.1.1); apps may send any V3 header.
        """
        lock = cls(preset, name=name, address=address, clock=clock, rng=rng)
        if len(aes_key) != KEY_SIZE:
            raise ValueError(f"aes_key must be {KEY_SIZE} bytes, got {len(aes_key)}")
        check_int("admin_ps", admin_ps, 0, _U32_MAX, secret=True)
        check_int("unlock_key", unlock_key, 0, _U32_MAX, secret=True)
        check_int("lock_flag_pos", lock_flag_pos, 0, 0xFF_FFFF)
        check_int("uid", uid, 0, _U32_MAX)
        if header is not None:
            lock._header = LockHeader.parse(header) if isinstance(header, str) else header
        lock.connection = LockConnection(
            setting_mode=False, operate_refusal=lock.preset.operate_refusal
        )
        pairing = lock.memory.pairing
        pairing.aes_key = bytes(aes_key)
        pairing.admin_ps = admin_ps
        pairing.unlock_key = unlock_key
        pairing.admin_uid = uid
        lock.lock_flag_pos = lock_flag_pos
        lock.memory.keypad.admin_code = lock.new_admin_code()
        return lock

    @classmethod
    def from_credentials(
        cls,
        credentials: LockData,
        *,
        preset: LockPreset | str = DEFAULT_LOCK_PRESET,
        name: str | None = None,
        address: str | None = None,
        clock: Clock | None = None,
        rng: RandomSource | None = None,
        header: LockHeader | str | None = None,
    ) -> VirtualLock:
        """:meth:`paired` from stored credentials.

        The lock keeps its preset's header (or the ``header`` given, a recorded
        lock's own): ``credentials.header`` is what the app puts on requests, and a
        lock answers with its own (§2.1).
        """
        return cls.paired(
            aes_key=credentials.aes_key,
            admin_ps=credentials.admin_ps,
            unlock_key=credentials.unlock_key,
            lock_flag_pos=credentials.lock_flag_pos,
            uid=credentials.uid,
            header=header,
            preset=preset,
            name=name,
            address=address,
            clock=clock,
            rng=rng,
        )

    def __repr__(self) -> str:
        # Never the key, the admin password or the unlock key.
        return (
            f"<VirtualLock {self.name} {self.address} preset={self.preset.name} "
            f"state={self.connection.state.value}>"
        )

    # --- VirtualDevice -----------------------------------------------------------

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.LOCK

    @property
    def gatt(self) -> GattProfile:
        return LOCK_GATT

    def advertisement(self) -> Advertisement:
        """V3 manufacturer data reflecting setting mode, bolt, new records, battery (§6)."""
        self.settle()  # an auto-lock may have closed the bolt, a push written a record
        header = self.header
        inputs = (
            header.protocol_type,
            header.sub_version,
            header.scene,
            self.unlocked,
            self.memory.log.has_unread,
            self.setting_mode,
            self.battery,
            self.address,
        )
        # A scanner asks every 25 ms; the bytes are rebuilt only when an input changed
        # (issue 15). The Advertisement and its dict and list are new every call.
        if inputs != self._advert_inputs:
            (
                protocol_type,
                protocol_version,
                scene,
                unlocked,
                has_events,
                setting_mode,
                battery,
                mac,
            ) = inputs
            self._advert_bytes = split_for_bleak(
                build_lock_advert(
                    protocol_type=protocol_type,
                    protocol_version=protocol_version,
                    scene=scene,
                    unlocked=unlocked,
                    has_events=has_events,
                    setting_mode=setting_mode,
                    battery=battery,
                    mac=mac,
                )
            )
            self._advert_inputs = inputs
        company_id, rest = self._advert_bytes
        return Advertisement(self.name, {company_id: rest}, [LOCK_GATT.service])

    def device_information(self) -> dict[str, bytes]:
        """Device Information (0x180A) as a real lock serves it (docs/protocol.md §10.4):
        manufacturer (the preset's, our decision), model, firmware, hardware."""
        return {
            "2a29": self.preset.manufacturer.encode(),
            "2a24": self.preset.model.encode(),
            "2a26": self.preset.firmware.encode(),
            "2a27": self.preset.hardware.encode(),
        }

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes an app wrote (any chunking) → the reply frames, each ending ``0D 0A``."""
        if not self.connection.connected:
            self.on_connect()
        self.settle()
        return self._pipeline.receive(data)

    def take_pushes(self) -> list[bytes]:
        """Unsolicited frames due since the last call: the card number of an IC add, a
        fingerprint touch, a log-written push, the outcome of a Wi-Fi join (device clock)."""
        self.settle()
        return self.due_pushes()

    def error_reply(self, command: int, error: int) -> bytes:
        """A failure reply to ``command`` with error byte ``error``, under the current key."""
        return self._pipeline.reply_frame(Reply.failure(command, error), self.key_for(command))

    def push_frame(self) -> bytes:
        """A state heartbeat push (echo 0x14, ``[battery][state][flag]``, §4.1)."""
        self.settle()
        push = StatePush(self.battery, self.bolt_state(), 0)
        return self._pipeline.reply_frame(
            Reply.success(LockCommand.SEARCH_STATUS, push), self.current_key()
        )

    def on_connect(self) -> None:
        """A central connected: a fresh connection with no login."""
        if self.connection.connected:
            self.on_disconnect()
        self.connection.connect()
        self.new_session()
        self._pipeline.reset()
        logger.debug("%s: connected", self.tag)

    def on_disconnect(self) -> None:
        """The link dropped: the login and any add mode end; stored state stays."""
        if not self.connection.connected:
            return
        state = self.connection.disconnect()
        if state is LockState.SETTING_MODE:
            self.memory.pairing.aes_key = None  # an issued but unconfirmed key is forgotten
        self.new_session()
        self._pipeline.reset()
        self.pushes.clear()
        self.delayed.clear()
        logger.debug("%s: disconnected (%s)", self.tag, state.value)

    # --- inspection ----------------------------------------------------------------

    @property
    def connection_state(self) -> LockState:
        """The shared lock-role state (:class:`ttlock_hil.protocol.connection.LockState`)."""
        return self.connection.state

    @property
    def credentials(self) -> LockData | None:
        """The lockData an app holds for this lock (``None`` in setting mode)."""
        pairing = self.memory.pairing
        if self.setting_mode or pairing.aes_key is None:
            return None
        assert pairing.admin_ps is not None
        assert pairing.unlock_key is not None
        return LockData(
            aes_key=pairing.aes_key,
            admin_ps=pairing.admin_ps,
            unlock_key=pairing.unlock_key,
            lock_flag_pos=self.lock_flag_pos,
            uid=pairing.admin_uid,
            header=self.header,
        )

    @property
    def passcodes(self) -> Mapping[str, StoredPasscode]:
        """Keyboard passcodes by code (a read-only view)."""
        return MappingProxyType(self.memory.keypad.passcodes)

    @property
    def cards(self) -> Mapping[int, Validity]:
        return MappingProxyType(self.memory.enrolments.cards)

    @property
    def fingerprints(self) -> Mapping[int, Validity]:
        return MappingProxyType(self.memory.enrolments.fingerprints)

    @property
    def passage_modes(self) -> tuple[PassageModeEntry, ...]:
        return tuple(self.memory.settings.passage_modes)

    @property
    def log(self) -> tuple[LogRecord, ...]:
        """The operate log, oldest first (what 0x25 pages through)."""
        return tuple(self.memory.log.records)

    @property
    def admin_code(self) -> str | None:
        """The keypad admin ("super") passcode, if set."""
        return self.memory.keypad.admin_code

    @property
    def auto_lock_seconds(self) -> int:
        return self.memory.settings.auto_lock_seconds

    @property
    def audio(self) -> bool:
        return self.memory.settings.audio

    @property
    def remote_unlock(self) -> bool:
        return self.memory.settings.remote_unlock

    @property
    def show_password(self) -> bool:
        return self.memory.settings.show_password

    # --- bench actions (lock_bench) ------------------------------------------------------

    def enter_passcode(self, passcode: str) -> bool:
        """Someone types ``passcode`` on the keypad; True if the lock opened.

        Logged as KEYBOARD_PASSWORD_UNLOCK (4), ERROR_PASSWORD_UNLOCK (7) or,
        when double-locked, PASSCODE_UNLOCK_FAILED_LOCK_REVERSE (38).
        """
        return lock_bench.enter_passcode(self, passcode, self._push)

    def present_card(self, card: int) -> bool:
        """An IC card is held to the reader; True if it was enrolled or opened the lock.

        In card add mode (0x05 op 2 on this connection) the card is stored and the
        second reply ``[battery][02][01][card]`` is pushed; otherwise it is an
        unlock attempt, logged IC_UNLOCK (17), IC_UNLOCK_FAILED (25) or
        IC_UNLOCK_FAILED_LOCK_REVERSE (39).
        """
        return lock_bench.present_card(self, card, self._push)

    def present_finger(self, fingerprint: int | None = None) -> bool:
        """A finger touches the sensor; True if it was enrolled or opened the lock.

        In fingerprint add mode the whole enrolment happens: the preset's
        ``fingerprint_touches - 1`` progress replies (status 3) then
        ``[battery][02][01][fp 6 B]`` are pushed; the id is ``fingerprint`` or a
        random 6-byte one. Otherwise ``fingerprint`` (required) tries to unlock,
        logged FR_UNLOCK (20), FR_UNLOCK_FAILED (22) or FR_UNLOCK_FAILED_LOCK_REVERSE (40).
        """
        return lock_bench.present_finger(self, fingerprint, self._push)

    def push_state(self) -> None:
        """Queue a state heartbeat push (what :meth:`push_frame` builds)."""
        if self.connection.connected:
            self.pushes.append(self.push_frame())

    def _push(self, reply: Reply) -> None:
        self.push(reply)

    def _frame_reply(self, reply: Reply) -> bytes:
        return self._pipeline.reply_frame(reply, self.current_key())

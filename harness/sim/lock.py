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

How each request is handled, in this order (the choices no capture settles
are ours and marked so):

1. **Bad CRC** → error 0x01 LOCK_CRC_CHECK_ERROR, echoing the frame's opcode
   (§5.1). Legacy (type < 5) frames get no reply: a V3 lock does not speak them.
2. **Cannot decrypt** with the key in force (bad padding, length not a multiple
   of 16) → *no reply at all* (our choice, like a real lock: it cannot even
   trust the opcode; the app then reports a response timeout).
3. **Unknown opcode** (no layout in :mod:`ttlock_hil.protocol.messages`) or a **feature
   the model lacks** (:data:`FEATURE_OF_COMMAND`) → 0x1B INVALID_COMMAND (27).
4. **Gate** (:data:`ttlock_hil.protocol.connection.GATE_RULES`): e.g. ADD_ADMIN on a paired
   lock → 0x07; an admin command without 0x41+0x30 → 0x02; 0x47/0x58 without
   any login in this connection → 0x12 USER_NOT_LOGIN (preset
   ``operate_refusal`` may say 0x02 instead); commands in setting mode → 0x05.
5. **Payload that does not decode** → 0x20 INVALID_PARAM (32).
6. The command itself (§4.2/§4.3), with the errors of §5.1: wrong admin
   password 0x03, flag position below the lock's 0x0D, e-key expired 0x0E /
   not yet valid 0x11, passcode length not 4..9 0x0F, exists 0x14, missing
   0x15, memory full 0x16, admin code equal to the delete code 0x10, card
   missing 0x18, fingerprint missing 0x1A, battery at or below the preset's
   ``low_battery`` 0x0A (unlock/lock only), frozen 0x1C and double-locked 0x1E
   (non-admin unlock only), missing log record 0x1F. A wrong check value in
   0x30 answers 0x03 and in 0x47/0x58 answers 0x02 (our choice).
7. Preset quirks (:class:`~ttlock_hil.harness.sim.presets.ReplyOverride`) last.

Persisted state (pairing, passcodes, cards, fingerprints, log, settings)
survives :meth:`VirtualLock.on_disconnect`; the login does not. A key handed
out by GET_AES_KEY but never confirmed by ADD_ADMIN is forgotten with the link.
:meth:`receive` on a lock nobody connected to starts a connection implicitly
(handy for sans-IO use); transports call :meth:`on_connect` themselves.

The *bench* API is what a test does to the physical lock: set the battery,
freeze it, double-lock it, set its clock, type a passcode, present a card or a
finger (which also completes the IC/fingerprint "add" flows: the second,
unsolicited reply then comes out of :meth:`take_pushes`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import Any, Final

from ttlock_hil.protocol.advert import build_lock_advert, lock_local_name, split_for_bleak
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.connection import Auth, KeyChoice, LockConnection, LockState
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY, KEY_SIZE, parse_mac
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errors import CrcMismatch, DecryptError, FrameError, MessageError
from ttlock_hil.protocol.frame import (
    LOCK_TRAILER,
    LockFrame,
    LockHeader,
    encode_lock_command,
    parse_frame,
)
from ttlock_hil.protocol.lockdata import LockData
from ttlock_hil.protocol.login import check_value
from ttlock_hil.protocol.messages import (
    END_OF_LIST,
    LOCK_MESSAGES,
    NEW_RECORDS,
    AddAdmin,
    AddAdminReply,
    AdminCodeReply,
    AesKeyReply,
    AudioQuery,
    AudioReply,
    AudioSet,
    AudioSetVolume,
    AutoLockQuery,
    AutoLockReply,
    AutoLockSet,
    CheckAdmin,
    CheckAdminReply,
    CheckRandom,
    CheckUserTime,
    CheckUserTimeReply,
    DeviceInfoReply,
    DeviceInfoType,
    EmptyReply,
    Feature,
    FeaturesReply,
    FrAckReply,
    FrAddedReply,
    FrAddProgressReply,
    FrAddStatus,
    FrClear,
    FrDelete,
    FrEnterAddMode,
    FrEntry,
    FrListReply,
    FrModify,
    FrQuery,
    FunctionLock,
    FunctionLockReply,
    GetAdminCode,
    GetAesKey,
    GetLockTime,
    GetOperateLog,
    GetPasscodeList,
    IcAckReply,
    IcAdd,
    IcAddedReply,
    IcAddProgressReply,
    IcClear,
    IcDelete,
    IcEnterAddMode,
    IcEntry,
    IcListReply,
    IcModify,
    IcQuery,
    Initialization,
    LockDate,
    LockTimeReply,
    LogRecord,
    LogType,
    OperateFinished,
    OperateLogReply,
    PassageModeAckReply,
    PassageModeAdd,
    PassageModeClear,
    PassageModeDelete,
    PassageModeEntry,
    PassageModeListReply,
    PassageModeQuery,
    PassageModeType,
    PasscodeAdd,
    PasscodeClear,
    PasscodeDelete,
    PasscodeListEntry,
    PasscodeListReply,
    PasscodeModify,
    PasscodeReply,
    PasscodeType,
    ReadDeviceInfo,
    RemoteUnlockQuery,
    RemoteUnlockReply,
    RemoteUnlockSet,
    Reply,
    Request,
    ResetLock,
    SearchDeviceFeature,
    SearchStatus,
    SetAdminPasscode,
    ShowPasswordQuery,
    ShowPasswordReply,
    ShowPasswordSet,
    StatePush,
    StatusReply,
    TimeCalibrate,
    Unlock,
    UnlockReply,
    decode_request,
)
from ttlock_hil.protocol.messages import LockState as BoltState
from ttlock_hil.protocol.reassembly import FrameReassembler

from .device import LOCK_GATT, Advertisement, Clock, GattProfile, ManualClock
from .presets import (
    DEFAULT_LOCK_PRESET,
    LockPreset,
    PresetError,
    RandomSource,
    ReplyOverride,
    get_preset,
)
from .settings import BenchSetting

logger = logging.getLogger(__name__)

_U32: Final = 0xFFFF_FFFF

MAX_REPLY_PLAINTEXT: Final = 111
"""Largest reply plaintext a page of a list carries (ciphertext 112 bytes).

The vendor reads the length byte as a *signed* Java byte (docs/protocol.md §1.1), so
ciphertexts above 127 bytes would break it; lists are paged below that.
"""

LOG_CAPACITY: Final = 1000
"""Operate-log records kept; the oldest are dropped beyond it (invented limit)."""

PASSAGE_MODE_END: Final = 0xFF
"""``seq`` of the last passage-mode page (our choice, like 0xFFFF ends IC/FR lists)."""


class DeviceError(IntEnum):
    """Lock error bytes the model answers (reply plaintext[2], docs/protocol.md §5.1)."""

    CRC_CHECK_ERROR = 0x01  # LOCK_CRC_CHECK_ERROR
    NO_PERMISSION = 0x02  # LOCK_NO_PERMISSION
    ADMIN_CHECK_ERROR = 0x03  # LOCK_ADMIN_CHECK_ERROR
    IN_SETTING_MODE = 0x05  # LOCK_IS_IN_SETTING_MODE
    NOT_IN_SETTING_MODE = 0x07  # LOCK_IS_IN_NO_SETTING_MODE
    NO_POWER = 0x0A  # LOCK_NO_POWER
    KEY_FLAG_INVALID = 0x0D  # LOCK_KEY_FLAG_INVALID
    USER_TIME_EXPIRED = 0x0E  # LOCK_USER_TIME_EXPIRED
    PASSWORD_LENGTH_INVALID = 0x0F  # LOCK_PASSWORD_LENGTH_INVALID
    SUPER_PASSWORD_SAME_AS_DELETE = 0x10  # LOCK_SUPER_PASSWORD_IS_SAME_WITH_DELETE_PASSWORD
    USER_TIME_INEFFECTIVE = 0x11  # LOCK_USER_TIME_INEFFECTIVE
    USER_NOT_LOGIN = 0x12  # LOCK_USER_NOT_LOGIN
    OPERATE_FAILED = 0x13  # LOCK_OPERATE_FAILED
    PASSWORD_EXIST = 0x14  # LOCK_PASSWORD_EXIST
    PASSWORD_NOT_EXIST = 0x15  # LOCK_PASSWORD_NOT_EXIST
    NO_FREE_MEMORY = 0x16  # LOCK_NO_FREE_MEMORY
    IC_CARD_NOT_EXIST = 0x18  # IC_CARD_NOT_EXIST
    # Not in the vendor's LockError: TTLOCK-BLE saw it for 0x90 step 7 on a non-NB lock (§5.1).
    UNRECOGNISED_STEP = 0x19
    FINGER_PRINT_NOT_EXIST = 0x1A  # FINGER_PRINT_NOT_EXIST
    INVALID_COMMAND = 0x1B  # INVALID_COMMAND
    FROZEN = 0x1C  # LOCK_FROZEN
    LOCK_REVERSE = 0x1E  # LOCK_REVERSE ("double locked")
    RECORD_NOT_EXIST = 0x1F  # RECORD_NOT_EXIST
    INVALID_PARAM = 0x20  # INVALID_PARAM


_C = LockCommand
_F = Feature
FEATURE_OF_COMMAND: Final[Mapping[int, int]] = MappingProxyType(
    {
        _C.MANAGE_KEYBOARD_PASSWORD: _F.PASSCODE,
        _C.PWD_LIST: _F.PASSCODE,
        _C.SET_ADMIN_KEYBOARD_PWD: _F.PASSCODE,
        _C.IC_MANAGE: _F.IC,
        _C.FR_MANAGE: _F.FINGER_PRINT,
        _C.AUTO_LOCK_MANAGE: _F.AUTO_LOCK,
        _C.CONTROL_REMOTE_UNLOCK: _F.CONFIG_GATEWAY_UNLOCK,
        _C.SHOW_PASSWORD: _F.PASSWORD_DISPLAY_OR_HIDE,
        _C.AUDIO_MANAGE: _F.AUDIO_MANAGEMENT,
        _C.GET_ADMIN_CODE: _F.GET_ADMIN_CODE,
        _C.CONFIGURE_PASSAGE_MODE: _F.PASSAGE_MODE,
    }
)
"""Opcode → the feature bit (§4.3 step 5) a lock must report to accept it (§4.3 step 6)."""

_NB_INFO: Final = frozenset(
    {
        DeviceInfoType.NB_OPERATOR,
        DeviceInfoType.NB_IMEI,
        DeviceInfoType.NB_CARD,
        DeviceInfoType.NB_RSSI,
    }
)


@dataclass(frozen=True, slots=True)
class Validity:
    """When a credential (passcode, card, fingerprint) works: ``start <= now < end``."""

    start: LockDate
    end: LockDate | None = None

    def covers(self, now: LockDate) -> bool:
        return self.start <= now and (self.end is None or now < self.end)


_FOREVER: Final = LockDate(2099, 12, 31, 23, 59)
PERMANENT: Final = Validity(LockDate(2000, 1, 1), _FOREVER)
"""The window a card or fingerprint gets when it is enrolled on the lock itself."""


@dataclass(frozen=True, slots=True, repr=False)
class StoredPasscode:
    """A keyboard passcode held by the lock (the code itself stays out of reprs)."""

    passcode_type: int
    validity: Validity

    def __repr__(self) -> str:
        return f"StoredPasscode(type={self.passcode_type}, validity={self.validity})"


class _Refused(Exception):
    """Internal: a handler refuses the request with a lock error byte."""

    def __init__(self, error: int, reason: str = "") -> None:
        super().__init__(reason or f"error 0x{error:02x}")
        self.error = error


class _AddMode(Enum):
    """What the lock is enrolling on this connection (0x05/0x06 op 2)."""

    CARD = "card"
    FINGERPRINT = "fingerprint"


@dataclass(slots=True)
class _Session:
    """Per-connection state: lost with the link (docs/protocol.md §4.3: login each connection)."""

    challenge: int | None = None
    uid: int = 0
    add_mode: _AddMode | None = None


def _random_source(rng: RandomSource | None) -> Callable[[int], bytes]:
    if rng is None:
        return random.Random().randbytes
    if isinstance(rng, random.Random):
        return rng.randbytes
    if callable(rng):
        return rng
    raise PresetError(f"rng must be a random.Random or a callable n -> bytes, got {rng!r}")


def _check_byte_range(name: str, value: int, low: int, high: int, *, secret: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        shown = "(value not shown: it is a secret)" if secret else f"got {value!r}"
        raise ValueError(f"{name} must be an int in {low}..{high}, {shown}")


class VirtualLock:
    """A TTLock V3 lock model (see the module docstring for the rules it follows).

    Build one factory-fresh (setting mode) with ``VirtualLock(preset)``, or
    already paired with :meth:`paired` / :meth:`from_credentials`. ``preset``
    is a :class:`~ttlock_hil.harness.sim.presets.LockPreset` or its name; ``name`` and
    ``address`` override the advertised name and the MAC; ``clock`` is the
    device's time source (default: a ManualClock at 2026-01-01 12:00); ``rng``
    its randomness (a seeded ``random.Random`` or a callable ``n -> bytes``).
    """

    # Bench settings (docs/architecture.md §5): the physical conditions a bench may change,
    # each checked on assignment; the model updates the private fields itself.
    battery = BenchSetting[int](
        int,
        "Battery percentage (assign to simulate a draining battery); at or below the preset's "
        "low_battery, unlock and lock fail with 0x0A.",
        valid=range(101),
        attribute="_battery",
    )
    frozen = BenchSetting[bool](
        bool, "Frozen locks refuse non-admin unlocks with 0x1C (28).", attribute="_frozen"
    )
    double_locked = BenchSetting[bool](
        bool,
        "Double-locked (LOCK_REVERSE) locks refuse non-admin unlocks with 0x1E (30).",
        attribute="_double_locked",
    )
    lock_flag_pos = BenchSetting[int](
        int,
        "The lock's flag position: e-keys and admins presenting a lower one get 0x0D.",
        valid=range(0x100_0000),
        attribute="_lock_flag_pos",
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
        self._preset = record
        mac = address or record.mac
        self._address = ":".join(f"{b:02X}" for b in parse_mac(mac))
        self._name = name or lock_local_name(record.name_prefix, self._address)
        self._tag = f"{self._name} ({self._address})"  # log prefix
        self._header = record.header
        self._clock: Clock = clock if clock is not None else ManualClock()
        self._random = _random_source(rng)
        self._reassembler = FrameReassembler(DeviceKind.LOCK)
        self._pushes: list[bytes] = []
        self._session = _Session()
        # Physical conditions the bench controls.
        self._battery = record.battery
        self._frozen = False
        self._double_locked = False
        self._unlocked_at: datetime | None = None
        self._clock_offset = timedelta(0)
        self._connection = LockConnection(setting_mode=True, operate_refusal=record.operate_refusal)
        self._wipe()

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
        _check_byte_range("admin_ps", admin_ps, 0, _U32, secret=True)
        _check_byte_range("unlock_key", unlock_key, 0, _U32, secret=True)
        _check_byte_range("lock_flag_pos", lock_flag_pos, 0, 0xFF_FFFF)
        _check_byte_range("uid", uid, 0, _U32)
        if header is not None:
            lock._header = LockHeader.parse(header) if isinstance(header, str) else header
        lock._connection = LockConnection(
            setting_mode=False, operate_refusal=lock._preset.operate_refusal
        )
        lock._aes_key = bytes(aes_key)
        lock._admin_ps = admin_ps
        lock._unlock_key = unlock_key
        lock._lock_flag_pos = lock_flag_pos
        lock._admin_uid = uid
        lock._admin_code = lock._new_admin_code()
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
    ) -> VirtualLock:
        """:meth:`paired` from stored credentials.

        The lock keeps its preset's header: ``credentials.header`` is what the
        app puts on requests, and a lock answers with its own (§2.1).
        """
        return cls.paired(
            aes_key=credentials.aes_key,
            admin_ps=credentials.admin_ps,
            unlock_key=credentials.unlock_key,
            lock_flag_pos=credentials.lock_flag_pos,
            uid=credentials.uid,
            preset=preset,
            name=name,
            address=address,
            clock=clock,
            rng=rng,
        )

    def _wipe(self) -> None:
        """Forget everything stored: no key, no admin, no credentials, factory settings."""
        self._aes_key: bytes | None = None
        self._admin_ps: int | None = None
        self._unlock_key: int | None = None
        self._lock_flag_pos = 0
        self._admin_uid = 0
        self._admin_code: str | None = None
        self._passcodes: dict[str, StoredPasscode] = {}
        self._cards: dict[int, Validity] = {}
        self._fingerprints: dict[int, Validity] = {}
        self._passage_modes: list[PassageModeEntry] = []
        self._log: list[LogRecord] = []
        self._log_cursor = 0
        self._next_record_id = 1
        self._auto_lock_seconds = 0
        self._audio = True
        self._volume = 3
        self._remote_unlock = False
        self._show_password = True

    def __repr__(self) -> str:
        # Never the key, the admin password or the unlock key.
        return (
            f"<VirtualLock {self._name} {self._address} preset={self._preset.name} "
            f"state={self._connection.state.value}>"
        )

    # --- VirtualDevice -----------------------------------------------------------

    @property
    def name(self) -> str:
        """Advertised local name, e.g. ``S202F_f69a04`` (§6)."""
        return self._name

    @property
    def address(self) -> str:
        """BLE address, upper case."""
        return self._address

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.LOCK

    @property
    def gatt(self) -> GattProfile:
        return LOCK_GATT

    @property
    def preset(self) -> LockPreset:
        return self._preset

    @property
    def header(self) -> LockHeader:
        """The header this lock puts on its replies."""
        return self._header

    def advertisement(self) -> Advertisement:
        """V3 manufacturer data reflecting setting mode, bolt, new records, battery (§6)."""
        self._settle()
        data = build_lock_advert(
            protocol_type=self._header.protocol_type,
            protocol_version=self._header.sub_version,
            scene=self._header.scene,
            unlocked=self.unlocked,
            has_events=self._log_cursor < len(self._log),
            setting_mode=self.setting_mode,
            battery=self._battery,
            mac=self._address,
        )
        company_id, rest = split_for_bleak(data)
        return Advertisement(self._name, {company_id: rest}, [LOCK_GATT.service])

    def device_information(self) -> dict[str, bytes]:
        """Device Information service values (0x180A, docs/protocol.md §1.1): model, FW, HW."""
        return {
            "2a24": self._preset.model.encode(),
            "2a26": self._preset.firmware.encode(),
            "2a27": self._preset.hardware.encode(),
        }

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes an app wrote (any chunking) → the reply frames, each ending ``0D 0A``."""
        if not self._connection.connected:
            self.on_connect()
        self._settle()
        replies: list[bytes] = []
        for raw in self._reassembler.feed(data):
            replies.extend(self._handle_frame(raw))
        return replies

    def take_pushes(self) -> list[bytes]:
        """Unsolicited frames queued since the last call (e.g. the card number of an IC add)."""
        self._settle()
        pushes, self._pushes = self._pushes, []
        return pushes

    def error_reply(self, command: int, error: int) -> bytes:
        """A failure reply to ``command`` with error byte ``error``, under the current key."""
        return self._frame(Reply.failure(command, error), self._key_for(command))

    def push_frame(self) -> bytes:
        """A state heartbeat push (echo 0x14, ``[battery][state][flag]``, §4.1)."""
        self._settle()
        push = StatePush(self._battery, self._bolt_state(), 0)
        return self._frame(Reply.success(_C.SEARCH_STATUS, push), self._current_key())

    def on_connect(self) -> None:
        """A central connected: a fresh connection with no login."""
        if self._connection.connected:
            self.on_disconnect()
        self._connection.connect()
        self._session = _Session()
        self._reassembler.reset()
        logger.debug("%s: connected", self._tag)

    def on_disconnect(self) -> None:
        """The link dropped: the login and any add mode end; stored state stays."""
        if not self._connection.connected:
            return
        state = self._connection.disconnect()
        if state is LockState.SETTING_MODE:
            self._aes_key = None  # an issued but unconfirmed key is forgotten
        self._session = _Session()
        self._reassembler.reset()
        self._pushes.clear()
        logger.debug("%s: disconnected (%s)", self._tag, state.value)

    # --- inspection ----------------------------------------------------------------

    @property
    def connection_state(self) -> LockState:
        """The shared lock-role state (:class:`ttlock_hil.protocol.connection.LockState`)."""
        return self._connection.state

    @property
    def auth(self) -> Auth:
        """What the current connection has proved."""
        return self._connection.auth

    @property
    def setting_mode(self) -> bool:
        """True until an admin is added (the advert's setting-mode bit)."""
        return self._connection.setting_mode

    @property
    def credentials(self) -> LockData | None:
        """The lockData an app holds for this lock (``None`` in setting mode)."""
        if self.setting_mode or self._aes_key is None:
            return None
        assert self._admin_ps is not None
        assert self._unlock_key is not None
        return LockData(
            aes_key=self._aes_key,
            admin_ps=self._admin_ps,
            unlock_key=self._unlock_key,
            lock_flag_pos=self._lock_flag_pos,
            uid=self._admin_uid,
            header=self._header,
        )

    @property
    def unlocked(self) -> bool:
        """Whether the bolt is open (an auto-lock delay may close it)."""
        self._settle()
        return self._unlocked_at is not None

    @property
    def passcodes(self) -> Mapping[str, StoredPasscode]:
        """Keyboard passcodes by code (a read-only view)."""
        return MappingProxyType(self._passcodes)

    @property
    def cards(self) -> Mapping[int, Validity]:
        return MappingProxyType(self._cards)

    @property
    def fingerprints(self) -> Mapping[int, Validity]:
        return MappingProxyType(self._fingerprints)

    @property
    def passage_modes(self) -> tuple[PassageModeEntry, ...]:
        return tuple(self._passage_modes)

    @property
    def log(self) -> tuple[LogRecord, ...]:
        """The operate log, oldest first (what 0x25 pages through)."""
        return tuple(self._log)

    @property
    def admin_code(self) -> str | None:
        """The keypad admin ("super") passcode, if set."""
        return self._admin_code

    @property
    def auto_lock_seconds(self) -> int:
        return self._auto_lock_seconds

    @property
    def audio(self) -> bool:
        return self._audio

    @property
    def remote_unlock(self) -> bool:
        return self._remote_unlock

    @property
    def show_password(self) -> bool:
        return self._show_password

    # --- bench ---------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The lock's own clock (the injected clock plus what 0x43 or :meth:`set_time` set)."""
        return self._clock.now() + self._clock_offset

    def set_time(self, when: datetime) -> None:
        """Set the lock's clock (as a TIME_CALIBRATE would)."""
        self._clock_offset = when - self._clock.now()

    def enter_passcode(self, passcode: str) -> bool:
        """Someone types ``passcode`` on the keypad; True if the lock opened.

        Logged as KEYBOARD_PASSWORD_UNLOCK (4), ERROR_PASSWORD_UNLOCK (7) or,
        when double-locked, PASSCODE_UNLOCK_FAILED_LOCK_REVERSE (38).
        """
        if not self._preset.has(Feature.PASSCODE):
            raise PresetError(f"preset {self._preset.name!r} has no keypad")
        now = self._lock_date()
        stored = self._passcodes.get(passcode)
        valid = passcode == self._admin_code or (stored is not None and stored.validity.covers(now))
        if not valid:
            self._write_log(
                LogRecord.with_passcode(LogType.ERROR_PASSWORD_UNLOCK, now, self._battery, passcode)
            )
            return False
        return self._physical_unlock(
            LogRecord.with_passcode(
                LogType.KEYBOARD_PASSWORD_UNLOCK, now, self._battery, passcode, passcode
            ),
            LogRecord.with_passcode(
                LogType.PASSCODE_UNLOCK_FAILED_LOCK_REVERSE, now, self._battery, passcode, passcode
            ),
        )

    def present_card(self, card: int) -> bool:
        """An IC card is held to the reader; True if it was enrolled or opened the lock.

        In card add mode (0x05 op 2 on this connection) the card is stored and the
        second reply ``[battery][02][01][card]`` is pushed; otherwise it is an
        unlock attempt, logged IC_UNLOCK (17), IC_UNLOCK_FAILED (25) or
        IC_UNLOCK_FAILED_LOCK_REVERSE (39).
        """
        if not self._preset.has(Feature.IC):
            raise PresetError(f"preset {self._preset.name!r} has no IC card reader")
        now = self._lock_date()
        if self._session.add_mode is _AddMode.CARD:
            self._session.add_mode = None
            self._cards[card] = PERMANENT
            self._write_log(LogRecord.with_card(LogType.ADD_IC, now, self._battery, card))
            self._push(Reply.success(_C.IC_MANAGE, IcAddedReply(self._battery, card)))
            return True
        validity = self._cards.get(card)
        if validity is None or not validity.covers(now):
            self._write_log(LogRecord.with_card(LogType.IC_UNLOCK_FAILED, now, self._battery, card))
            return False
        return self._physical_unlock(
            LogRecord.with_card(LogType.IC_UNLOCK, now, self._battery, card),
            LogRecord.with_card(LogType.IC_UNLOCK_FAILED_LOCK_REVERSE, now, self._battery, card),
        )

    def present_finger(self, fingerprint: int | None = None) -> bool:
        """A finger touches the sensor; True if it was enrolled or opened the lock.

        In fingerprint add mode the whole enrolment happens: the preset's
        ``fingerprint_touches - 1`` progress replies (status 3) then
        ``[battery][02][01][fp 6 B]`` are pushed; the id is ``fingerprint`` or a
        random 6-byte one. Otherwise ``fingerprint`` (required) tries to unlock,
        logged FR_UNLOCK (20), FR_UNLOCK_FAILED (22) or FR_UNLOCK_FAILED_LOCK_REVERSE (40).
        """
        if not self._preset.has(Feature.FINGER_PRINT):
            raise PresetError(f"preset {self._preset.name!r} has no fingerprint sensor")
        now = self._lock_date()
        if self._session.add_mode is _AddMode.FINGERPRINT:
            self._session.add_mode = None
            new_id = (
                fingerprint if fingerprint is not None else int.from_bytes(self._random(6), "big")
            )
            _check_byte_range("fingerprint", new_id, 0, (1 << 48) - 1)
            for _ in range(self._preset.fingerprint_touches - 1):
                progress = FrAddProgressReply(self._battery, FrAddStatus.PROGRESS)
                self._push(Reply.success(_C.FR_MANAGE, progress))
            self._fingerprints[new_id] = PERMANENT
            self._write_log(
                LogRecord(LogType.ADD_FR, now, self._battery, new_id.to_bytes(6, "big"))
            )
            self._push(Reply.success(_C.FR_MANAGE, FrAddedReply(self._battery, new_id)))
            return True
        if fingerprint is None:
            raise ValueError("present_finger() outside add mode needs the fingerprint id")
        tail = fingerprint.to_bytes(6, "big")
        validity = self._fingerprints.get(fingerprint)
        if validity is None or not validity.covers(now):
            self._write_log(LogRecord(LogType.FR_UNLOCK_FAILED, now, self._battery, tail))
            return False
        return self._physical_unlock(
            LogRecord(LogType.FR_UNLOCK, now, self._battery, tail),
            LogRecord(LogType.FR_UNLOCK_FAILED_LOCK_REVERSE, now, self._battery, tail),
        )

    def push_state(self) -> None:
        """Queue a state heartbeat push (what :meth:`push_frame` builds)."""
        if self._connection.connected:
            self._pushes.append(self.push_frame())

    # --- frame handling ------------------------------------------------------------

    def _handle_frame(self, raw: bytes) -> list[bytes]:
        try:
            frame = parse_frame(raw)
        except CrcMismatch as exc:
            bad = exc.frame
            if not isinstance(bad, LockFrame):
                return []
            logger.debug("%s: request 0x%02x has a bad CRC", self._tag, bad.command)
            reply = Reply.failure(bad.command, DeviceError.CRC_CHECK_ERROR)
            return [self._frame(reply, self._key_for(bad.command))]
        except FrameError as exc:  # pragma: no cover - the reassembler only yields whole frames
            logger.debug("%s: unparseable frame %s: %s", self._tag, raw.hex(), exc)
            return []
        if not isinstance(frame, LockFrame):
            logger.debug("%s: legacy frame ignored (a V3 lock does not speak it)", self._tag)
            return []
        command = frame.command
        key = self._key_for(command)
        try:
            plaintext = frame.decrypt(key)
        except DecryptError:
            # No reply, like a real lock: it cannot trust even the opcode (module docstring).
            logger.debug("%s: request 0x%02x does not decrypt; no reply", self._tag, command)
            return []
        reply = self._answer(command, plaintext)
        return [self._frame(reply, key)]

    def _answer(self, command: int, plaintext: bytes) -> Reply:
        if command not in LOCK_MESSAGES:
            return self._quirk(command, Reply.failure(command, DeviceError.INVALID_COMMAND))
        feature = FEATURE_OF_COMMAND.get(command)
        if feature is not None and not self._preset.has(feature):
            return self._quirk(command, Reply.failure(command, DeviceError.INVALID_COMMAND))
        verdict = self._connection.on_command(command)
        if not verdict.allowed:
            assert verdict.error is not None
            logger.debug("%s: refused: %s", self._tag, verdict.reason)
            return self._quirk(command, Reply.failure(command, verdict.error))
        override = self._override(command, None)
        if override is not None:
            result = Reply.failure(command, override.error)
        else:
            result = self._execute(command, plaintext)
        self._connection.on_result(command, success=result.ok)
        return self._quirk(command, result)

    def _execute(self, command: int, plaintext: bytes) -> Reply:
        try:
            request = decode_request(command, plaintext)
        except MessageError as exc:
            logger.debug("%s: invalid parameter: %s", self._tag, exc)
            return Reply.failure(command, DeviceError.INVALID_PARAM)
        handler = self._HANDLERS.get(type(request))
        if handler is None:  # pragma: no cover - every LOCK_MESSAGES request has a handler (tested)
            return Reply.failure(command, DeviceError.INVALID_COMMAND)
        try:
            data = handler(self, request)
        except _Refused as refusal:
            logger.debug("%s: 0x%02x refused: %s", self._tag, command, refusal)
            return Reply.failure(command, refusal.error)
        return Reply.success(command, data)

    def _override(self, command: int, replaces: int | None) -> ReplyOverride | None:
        for override in self._preset.overrides:
            if override.command == command and override.replaces == replaces:
                return override
        return None

    def _quirk(self, command: int, reply: Reply) -> Reply:
        """Preset overrides (firmware variants): always refuse, or swap one error byte."""
        always = self._override(command, None)
        if always is not None:
            return Reply.failure(command, always.error)
        if reply.error_byte is None:
            return reply
        override = self._override(command, reply.error_byte)
        return reply if override is None else Reply.failure(command, override.error)

    def _key_for(self, command: int) -> bytes:
        return self._key(self._connection.key_for(command))

    def _current_key(self) -> bytes:
        return self._key(self._connection.key_choice)

    def _key(self, choice: KeyChoice) -> bytes:
        if choice is KeyChoice.DEFAULT or self._aes_key is None:
            return DEFAULT_LOCK_KEY
        return self._aes_key

    def _frame(self, reply: Reply, key: bytes) -> bytes:
        return (
            encode_lock_command(_C.RESPONSE, reply.encode(), key, header=self._header)
            + LOCK_TRAILER
        )

    def _push(self, reply: Reply) -> None:
        if self._connection.connected:
            self._pushes.append(self._frame(reply, self._current_key()))

    # --- state helpers -------------------------------------------------------------

    def _settle(self) -> None:
        """Apply what time did: the auto-lock closes the bolt after its delay."""
        if self._unlocked_at is None or self._auto_lock_seconds == 0:
            return
        if self._clock.now() >= self._unlocked_at + timedelta(seconds=self._auto_lock_seconds):
            self._unlocked_at = None

    def _bolt_state(self) -> int:
        return BoltState.UNLOCKED if self._unlocked_at is not None else BoltState.LOCKED

    def _lock_date(self) -> LockDate:
        return LockDate.of(self.now)

    def _random_u32(self) -> int:
        return int.from_bytes(self._random(4), "big")

    def _new_admin_code(self) -> str | None:
        """Locks that report GET_ADMIN_CODE make their own keypad admin code (§4.3 step 6)."""
        if not self._preset.has(Feature.GET_ADMIN_CODE):
            return None
        return f"{self._random_u32() % 10_000_000:07d}"

    def _write_log(self, record: LogRecord) -> None:
        self._log.append(record)
        self._next_record_id += 1
        if len(self._log) > LOG_CAPACITY:
            del self._log[0]
            self._log_cursor = max(0, self._log_cursor - 1)

    def _app_record(self, log_type: int) -> tuple[LogRecord, int]:
        record_id = self._next_record_id
        record = LogRecord.app(
            log_type, self._lock_date(), self._battery, self._session.uid, record_id
        )
        self._write_log(record)
        return record, record_id

    def _physical_unlock(self, success: LogRecord, reversed_: LogRecord) -> bool:
        """Keypad/card/finger opening: refused when frozen, double-locked or flat."""
        if self._frozen or self._battery <= self._preset.low_battery:
            return False
        if self._double_locked:
            self._write_log(reversed_)
            return False
        self._unlocked_at = self._clock.now()
        self._write_log(success)
        return True

    def _is_admin(self) -> bool:
        return self._connection.auth in (Auth.ADMIN, Auth.ADMIN_CHALLENGED)

    # --- handlers: init and login (docs/protocol.md §4.3) --------------------------------

    def _on_get_aes_key(self, request: GetAesKey) -> AesKeyReply:
        key = self._random(KEY_SIZE)
        if len(key) != KEY_SIZE:
            raise PresetError(f"rng returned {len(key)} bytes for a {KEY_SIZE}-byte key")
        self._aes_key = key
        return AesKeyReply(key)

    def _on_add_admin(self, request: AddAdmin) -> AddAdminReply:
        self._admin_ps = request.admin_ps
        self._unlock_key = request.unlock_key
        self._lock_flag_pos = 0
        self._admin_uid = 0
        self._admin_code = self._new_admin_code()
        return AddAdminReply()

    def _on_initialization(self, request: Initialization) -> bytes:
        return b""

    def _on_operate_finished(self, request: OperateFinished) -> EmptyReply:
        return EmptyReply()

    def _on_check_admin(self, request: CheckAdmin) -> CheckAdminReply:
        if request.admin_ps != self._admin_ps:
            raise _Refused(DeviceError.ADMIN_CHECK_ERROR, "wrong admin password")
        if request.flag_pos < self._lock_flag_pos:
            raise _Refused(DeviceError.KEY_FLAG_INVALID, "flag position below the lock's")
        self._session.challenge = self._random_u32()
        self._session.uid = request.uid
        return CheckAdminReply(self._session.challenge)

    def _expected_check(self) -> int | None:
        if self._session.challenge is None or self._unlock_key is None:
            return None
        return check_value(self._session.challenge, self._unlock_key)

    def _on_check_random(self, request: CheckRandom) -> EmptyReply:
        if request.check_value != self._expected_check():
            raise _Refused(DeviceError.ADMIN_CHECK_ERROR, "wrong check value (ps + unlockKey)")
        return EmptyReply()

    def _on_check_user_time(self, request: CheckUserTime) -> CheckUserTimeReply:
        if request.flag_pos < self._lock_flag_pos:
            raise _Refused(DeviceError.KEY_FLAG_INVALID, "e-key flag position below the lock's")
        now = self._lock_date()
        if now < request.start:
            raise _Refused(DeviceError.USER_TIME_INEFFECTIVE, f"e-key valid from {request.start}")
        if now >= request.end:
            raise _Refused(DeviceError.USER_TIME_EXPIRED, f"e-key expired at {request.end}")
        self._session.challenge = self._random_u32()
        self._session.uid = request.uid
        return CheckUserTimeReply(self._session.challenge)

    def _operate(self, request: Unlock | FunctionLock) -> int:
        """Checks shared by 0x47 and 0x58; returns the uid of the login."""
        expected = self._expected_check()
        if expected is None:
            raise _Refused(self._preset.operate_refusal, "no challenge on this connection")
        if request.check_value != expected:
            raise _Refused(DeviceError.NO_PERMISSION, "wrong check value (ps + unlockKey)")
        if self._battery <= self._preset.low_battery:
            raise _Refused(DeviceError.NO_POWER, f"battery {self._battery} %")
        return self._session.uid

    def _on_unlock(self, request: Unlock) -> UnlockReply:
        uid = self._operate(request)
        admin = self._is_admin()
        if self._frozen and not admin:
            raise _Refused(DeviceError.FROZEN, "the lock is frozen")
        if self._double_locked and not admin:
            self._app_record(LogType.APP_UNLOCK_FAILED_LOCK_REVERSE)
            raise _Refused(DeviceError.LOCK_REVERSE, "the door is double-locked")
        self._unlocked_at = self._clock.now()
        record, record_id = self._app_record(LogType.MOBILE_UNLOCK)
        return UnlockReply(self._battery, uid, record_id, record.date)

    def _on_function_lock(self, request: FunctionLock) -> FunctionLockReply:
        uid = self._operate(request)
        self._unlocked_at = None
        record, record_id = self._app_record(LogType.BLE_LOCK)
        return FunctionLockReply(self._battery, uid, record_id, record.date)

    def _on_reset(self, request: ResetLock) -> bytes:
        # The reply still goes out under the old key (chosen before); the shared table
        # then moves to setting mode (RESET event) and the default key is back (§3.1).
        logger.info("%s: factory reset", self._tag)
        self._wipe()
        self._session = _Session()
        return b""

    # --- handlers: status, time, features, device info ------------------------------

    def _on_status(self, request: SearchStatus) -> StatusReply:
        return StatusReply(self._battery, self._bolt_state(), self._preset.status_tail)

    def _on_features(self, request: SearchDeviceFeature) -> FeaturesReply:
        return FeaturesReply.of(self._battery, self._preset.features)

    def _on_get_time(self, request: GetLockTime) -> LockTimeReply:
        return LockTimeReply(self._lock_date())

    def _on_calibrate(self, request: TimeCalibrate) -> EmptyReply:
        self.set_time(datetime(*request.date.as_tuple()))
        return EmptyReply()

    def _on_device_info(self, request: ReadDeviceInfo) -> DeviceInfoReply:
        kind = request.info_type
        texts = {
            DeviceInfoType.MODEL: self._preset.model,
            DeviceInfoType.HARDWARE_REVISION: self._preset.hardware,
            DeviceInfoType.FIRMWARE_REVISION: self._preset.firmware,
            DeviceInfoType.MANUFACTURE_DATE: self._preset.manufacture_date,
        }
        if kind in texts:
            return DeviceInfoReply.of_text(texts[DeviceInfoType(kind)])
        if kind == DeviceInfoType.MAC:
            return DeviceInfoReply(parse_mac(self._address)[::-1])
        if kind == DeviceInfoType.LOCK_CLOCK:
            return DeviceInfoReply(self._lock_date().to_bytes())
        if kind in _NB_INFO and not self._preset.has(Feature.NB_LOCK):
            raise _Refused(DeviceError.UNRECOGNISED_STEP, "not an NB-IoT lock")
        raise _Refused(DeviceError.INVALID_PARAM, f"no device info item {kind}")

    # --- handlers: passcodes --------------------------------------------------------

    @staticmethod
    def _check_passcode(passcode: str) -> None:
        if not 4 <= len(passcode) <= 9:
            raise _Refused(DeviceError.PASSWORD_LENGTH_INVALID, "passcodes have 4..9 digits")
        if not passcode.isdigit():
            raise _Refused(DeviceError.INVALID_PARAM, "passcodes are decimal digits")

    @staticmethod
    def _window(start: LockDate, end: LockDate | None) -> Validity:
        if end is not None and end <= start:
            raise _Refused(DeviceError.INVALID_PARAM, "validity ends before it starts")
        return Validity(start, end)

    def _on_passcode_add(self, request: PasscodeAdd) -> PasscodeReply:
        self._check_passcode(request.passcode)
        if request.passcode in self._passcodes or request.passcode == self._admin_code:
            raise _Refused(DeviceError.PASSWORD_EXIST)
        if len(self._passcodes) >= self._preset.passcode_capacity:
            raise _Refused(DeviceError.NO_FREE_MEMORY, "passcode memory full")
        if request.passcode_type not in (
            PasscodeType.PERMANENT,
            PasscodeType.COUNT,
            PasscodeType.PERIOD,
        ):
            raise _Refused(DeviceError.INVALID_PARAM, "unknown passcode type")
        validity = self._window(request.start, request.end)
        self._passcodes[request.passcode] = StoredPasscode(request.passcode_type, validity)
        return PasscodeReply(self._battery, 2)

    def _on_passcode_delete(self, request: PasscodeDelete) -> PasscodeReply:
        if self._passcodes.pop(request.passcode, None) is None:
            raise _Refused(DeviceError.PASSWORD_NOT_EXIST)
        self._write_log(
            LogRecord.with_passcode(
                LogType.REMOVE_SINGLE_PASSWORD, self._lock_date(), self._battery, request.passcode
            )
        )
        return PasscodeReply(self._battery, 3)

    def _on_passcode_modify(self, request: PasscodeModify) -> PasscodeReply:
        old, new = request.old_passcode, request.new_passcode
        stored = self._passcodes.get(old)
        if stored is None:
            raise _Refused(DeviceError.PASSWORD_NOT_EXIST)
        self._check_passcode(new)
        if new != old and (new in self._passcodes or new == self._admin_code):
            raise _Refused(DeviceError.PASSWORD_EXIST)
        validity = self._window(request.start, request.end)
        del self._passcodes[old]
        self._passcodes[new] = StoredPasscode(stored.passcode_type, validity)
        self._write_log(
            LogRecord.with_passcode(
                LogType.KEYBOARD_MODIFY_PASSWORD, self._lock_date(), self._battery, old, new
            )
        )
        return PasscodeReply(self._battery, 5)

    def _on_passcode_clear(self, request: PasscodeClear) -> PasscodeReply:
        self._passcodes.clear()
        now = self._lock_date()
        # §4.5: type 8's tail is the deletion date, 5 bytes.
        tail = now.without_seconds().to_bytes(seconds=False)
        self._write_log(LogRecord(LogType.REMOVE_ALL_PASSWORDS, now, self._battery, tail))
        return PasscodeReply(self._battery, 1)

    def _on_passcode_list(self, request: GetPasscodeList) -> PasscodeListReply:
        items = list(self._passcodes.items())
        if request.seq >= len(items):
            return PasscodeListReply(0)  # the bare 00 00 that ends the list (§4.2)
        entries: list[PasscodeListEntry] = []
        size = 2 + 4
        index = request.seq
        while index < len(items):
            code, stored = items[index]
            entry = PasscodeListEntry(
                stored.passcode_type,
                code,
                code,
                stored.validity.start,
                stored.validity.end if stored.passcode_type != PasscodeType.PERMANENT else None,
            )
            encoded = len(entry.encode())
            if entries and size + encoded > MAX_REPLY_PLAINTEXT:
                break
            entries.append(entry)
            size += encoded
            index += 1
        total = sum(len(e.encode()) for e in entries)
        return PasscodeListReply(total, index, tuple(entries))

    def _on_set_admin_code(self, request: SetAdminPasscode) -> bytes:
        code = request.passcode
        if not 4 <= len(code) <= 9:
            raise _Refused(DeviceError.PASSWORD_LENGTH_INVALID, "admin code has 4..9 digits")
        if self.delete_passcode is not None and code == self.delete_passcode:
            raise _Refused(DeviceError.SUPER_PASSWORD_SAME_AS_DELETE)
        self._admin_code = code
        return b""

    def _on_get_admin_code(self, request: GetAdminCode) -> AdminCodeReply:
        return AdminCodeReply(self._battery, self._admin_code or "")

    # --- handlers: IC cards and fingerprints ----------------------------------------

    def _page_end(self, index: int, total: int) -> int:
        return index if index < total else END_OF_LIST

    def _on_ic_query(self, request: IcQuery) -> IcListReply:
        items = list(self._cards.items())
        per_page = (MAX_REPLY_PLAINTEXT - 6) // 18
        page = items[request.seq : request.seq + per_page]
        entries = tuple(IcEntry(card, v.start, v.end or _FOREVER) for card, v in page)
        end = request.seq + len(page)
        return IcListReply(self._battery, self._page_end(end, len(items)), entries)

    def _on_ic_enter_add(self, request: IcEnterAddMode) -> IcAddProgressReply:
        if len(self._cards) >= self._preset.card_capacity:
            raise _Refused(DeviceError.NO_FREE_MEMORY, "card memory full")
        self._session.add_mode = _AddMode.CARD
        return IcAddProgressReply(self._battery)

    def _on_ic_add(self, request: IcAdd) -> IcAddedReply:
        if request.card not in self._cards and len(self._cards) >= self._preset.card_capacity:
            raise _Refused(DeviceError.NO_FREE_MEMORY, "card memory full")
        self._cards[request.card] = self._window(request.start, request.end)
        self._write_log(
            LogRecord.with_card(LogType.ADD_IC, self._lock_date(), self._battery, request.card)
        )
        return IcAddedReply(self._battery, request.card)

    def _on_ic_delete(self, request: IcDelete) -> IcAckReply:
        if self._cards.pop(request.card, None) is None:
            raise _Refused(DeviceError.IC_CARD_NOT_EXIST)
        self._write_log(
            LogRecord.with_card(LogType.DELETE_IC, self._lock_date(), self._battery, request.card)
        )
        return IcAckReply(self._battery, 3)

    def _on_ic_clear(self, request: IcClear) -> IcAckReply:
        self._cards.clear()
        self._write_log(LogRecord(LogType.CLEAR_IC, self._lock_date(), self._battery))
        return IcAckReply(self._battery, 4)

    def _on_ic_modify(self, request: IcModify) -> IcAckReply:
        if request.card not in self._cards:
            raise _Refused(DeviceError.IC_CARD_NOT_EXIST)
        self._cards[request.card] = self._window(request.start, request.end)
        return IcAckReply(self._battery, 5)

    def _on_fr_query(self, request: FrQuery) -> FrListReply:
        items = list(self._fingerprints.items())
        per_page = (MAX_REPLY_PLAINTEXT - 6) // 16
        page = items[request.seq : request.seq + per_page]
        entries = tuple(FrEntry(fp, v.start, v.end or _FOREVER) for fp, v in page)
        end = request.seq + len(page)
        return FrListReply(self._battery, self._page_end(end, len(items)), entries)

    def _on_fr_enter_add(self, request: FrEnterAddMode) -> FrAddProgressReply:
        if len(self._fingerprints) >= self._preset.fingerprint_capacity:
            raise _Refused(DeviceError.NO_FREE_MEMORY, "fingerprint memory full")
        self._session.add_mode = _AddMode.FINGERPRINT
        return FrAddProgressReply(self._battery, FrAddStatus.ENTERED_ADD_MODE)

    def _on_fr_delete(self, request: FrDelete) -> FrAckReply:
        if self._fingerprints.pop(request.fingerprint, None) is None:
            raise _Refused(DeviceError.FINGER_PRINT_NOT_EXIST)
        tail = request.fingerprint.to_bytes(6, "big")
        self._write_log(LogRecord(LogType.DELETE_FR, self._lock_date(), self._battery, tail))
        return FrAckReply(self._battery, 3)

    def _on_fr_clear(self, request: FrClear) -> FrAckReply:
        self._fingerprints.clear()
        self._write_log(LogRecord(LogType.CLEAR_FR, self._lock_date(), self._battery))
        return FrAckReply(self._battery, 4)

    def _on_fr_modify(self, request: FrModify) -> FrAckReply:
        if request.fingerprint not in self._fingerprints:
            raise _Refused(DeviceError.FINGER_PRINT_NOT_EXIST)
        self._fingerprints[request.fingerprint] = self._window(request.start, request.end)
        return FrAckReply(self._battery, 5)

    # --- handlers: operate log --------------------------------------------------------

    def _on_operate_log(self, request: GetOperateLog) -> OperateLogReply:
        """Page through the log: ``seq`` = record index, NEW_RECORDS = unread ones.

        Our reading of the layout (§4.2 gives only the shape): ``total_len`` is the
        byte length of the records in this reply (0 = none), ``seq`` the index to
        ask for next, 0xFFFF once the last record was sent.
        """
        start = self._log_cursor if request.seq == NEW_RECORDS else request.seq
        if request.seq != NEW_RECORDS and start >= len(self._log):
            raise _Refused(DeviceError.RECORD_NOT_EXIST, f"no record {start}")
        if start >= len(self._log):
            return OperateLogReply(0)
        records: list[LogRecord] = []
        size = 2 + 4
        index = start
        while index < len(self._log):
            encoded = len(self._log[index].encode())
            if records and size + encoded > MAX_REPLY_PLAINTEXT:
                break
            records.append(self._log[index])
            size += encoded
            index += 1
        self._log_cursor = max(self._log_cursor, index)
        total = sum(len(r.encode()) for r in records)
        next_seq = index if index < len(self._log) else END_OF_LIST
        return OperateLogReply(total, next_seq, tuple(records))

    # --- handlers: settings -------------------------------------------------------------

    def _on_auto_lock_query(self, request: AutoLockQuery) -> AutoLockReply:
        low, high = self._preset.auto_lock_range
        return AutoLockReply(self._battery, 1, self._auto_lock_seconds, low, high)

    def _on_auto_lock_set(self, request: AutoLockSet) -> AutoLockReply:
        low, high = self._preset.auto_lock_range
        if request.seconds != 0 and not low <= request.seconds <= high:
            raise _Refused(DeviceError.INVALID_PARAM, f"auto-lock must be 0 or {low}..{high} s")
        self._auto_lock_seconds = request.seconds
        return AutoLockReply(self._battery, 2)

    def _on_remote_unlock_query(self, request: RemoteUnlockQuery) -> RemoteUnlockReply:
        return RemoteUnlockReply(self._battery, 1, self._remote_unlock)

    def _on_remote_unlock_set(self, request: RemoteUnlockSet) -> RemoteUnlockReply:
        self._remote_unlock = request.enabled
        return RemoteUnlockReply(self._battery, 2, self._remote_unlock)

    def _on_show_password_query(self, request: ShowPasswordQuery) -> ShowPasswordReply:
        return ShowPasswordReply(1, self._show_password)

    def _on_show_password_set(self, request: ShowPasswordSet) -> ShowPasswordReply:
        self._show_password = request.visible
        return ShowPasswordReply(2, self._show_password)

    def _on_audio_query(self, request: AudioQuery) -> AudioReply:
        volume = self._volume if self._preset.has(Feature.SOUND_VOLUME_AND_LANGUAGE) else None
        return AudioReply(self._battery, 1, self._audio, volume)

    def _on_audio_set(self, request: AudioSet) -> AudioReply:
        self._audio = request.enabled
        return AudioReply(self._battery, 2)

    def _on_audio_volume(self, request: AudioSetVolume) -> AudioReply:
        if not self._preset.has(Feature.SOUND_VOLUME_AND_LANGUAGE):
            raise _Refused(DeviceError.INVALID_COMMAND, "no volume control on this model")
        self._audio = True
        self._volume = request.level
        return AudioReply(self._battery, 2)

    @staticmethod
    def _check_passage(entry: PassageModeEntry) -> None:
        if entry.mode_type == PassageModeType.WEEKLY:
            day_ok = 0 <= entry.week_or_day <= 7
        elif entry.mode_type == PassageModeType.MONTHLY:
            day_ok = 1 <= entry.week_or_day <= 31
        else:
            day_ok = False
        times_ok = (
            entry.start_hour <= 23
            and entry.end_hour <= 23
            and entry.start_minute <= 59
            and entry.end_minute <= 59
        )
        if not (day_ok and times_ok and entry.month <= 12):
            raise _Refused(DeviceError.INVALID_PARAM, f"impossible passage-mode period {entry}")

    def _on_passage_query(self, request: PassageModeQuery) -> PassageModeListReply:
        per_page = (MAX_REPLY_PLAINTEXT - 5) // 7
        page = self._passage_modes[request.seq : request.seq + per_page]
        end = request.seq + len(page)
        next_seq = end if end < len(self._passage_modes) else PASSAGE_MODE_END
        return PassageModeListReply(self._battery, next_seq, tuple(page))

    def _on_passage_add(self, request: PassageModeAdd) -> PassageModeAckReply:
        self._check_passage(request.entry)
        if request.entry not in self._passage_modes:
            if len(self._passage_modes) >= self._preset.passage_mode_capacity:
                raise _Refused(DeviceError.NO_FREE_MEMORY, "passage-mode memory full")
            self._passage_modes.append(request.entry)
        return PassageModeAckReply(self._battery, 2)

    def _on_passage_delete(self, request: PassageModeDelete) -> PassageModeAckReply:
        if request.entry not in self._passage_modes:
            raise _Refused(DeviceError.RECORD_NOT_EXIST, "no such passage-mode period")
        self._passage_modes.remove(request.entry)
        return PassageModeAckReply(self._battery, 3)

    def _on_passage_clear(self, request: PassageModeClear) -> PassageModeAckReply:
        self._passage_modes.clear()
        return PassageModeAckReply(self._battery, 4)

    _HANDLERS: Final[dict[type[Request], Callable[[VirtualLock, Any], Any]]] = {
        GetAesKey: _on_get_aes_key,
        AddAdmin: _on_add_admin,
        Initialization: _on_initialization,
        OperateFinished: _on_operate_finished,
        CheckAdmin: _on_check_admin,
        CheckRandom: _on_check_random,
        CheckUserTime: _on_check_user_time,
        Unlock: _on_unlock,
        FunctionLock: _on_function_lock,
        ResetLock: _on_reset,
        SearchStatus: _on_status,
        SearchDeviceFeature: _on_features,
        GetLockTime: _on_get_time,
        TimeCalibrate: _on_calibrate,
        ReadDeviceInfo: _on_device_info,
        PasscodeAdd: _on_passcode_add,
        PasscodeDelete: _on_passcode_delete,
        PasscodeModify: _on_passcode_modify,
        PasscodeClear: _on_passcode_clear,
        GetPasscodeList: _on_passcode_list,
        SetAdminPasscode: _on_set_admin_code,
        GetAdminCode: _on_get_admin_code,
        IcQuery: _on_ic_query,
        IcEnterAddMode: _on_ic_enter_add,
        IcAdd: _on_ic_add,
        IcDelete: _on_ic_delete,
        IcClear: _on_ic_clear,
        IcModify: _on_ic_modify,
        FrQuery: _on_fr_query,
        FrEnterAddMode: _on_fr_enter_add,
        FrDelete: _on_fr_delete,
        FrClear: _on_fr_clear,
        FrModify: _on_fr_modify,
        GetOperateLog: _on_operate_log,
        AutoLockQuery: _on_auto_lock_query,
        AutoLockSet: _on_auto_lock_set,
        RemoteUnlockQuery: _on_remote_unlock_query,
        RemoteUnlockSet: _on_remote_unlock_set,
        ShowPasswordQuery: _on_show_password_query,
        ShowPasswordSet: _on_show_password_set,
        AudioQuery: _on_audio_query,
        AudioSet: _on_audio_set,
        AudioSetVolume: _on_audio_volume,
        PassageModeQuery: _on_passage_query,
        PassageModeAdd: _on_passage_add,
        PassageModeDelete: _on_passage_delete,
        PassageModeClear: _on_passage_clear,
    }

"""The lock API for tests: what a lab engineer calls, typed in and typed out.

::

    async with lab.lock("front-door") as lock:
        result = await lock.init()                 # factory-fresh lock → paired
        await lock.unlock()                        # as admin (41 → 47)
        await lock.unlock(ekey=EKeyWindow.of(start, end))   # as a user (55 → 47)
        async with expect_code(Code.EKEY_EXPIRED):
            await lock.unlock(ekey=EKeyWindow.of(last_year, last_month))

Connecting and logging in happen lazily: the first command connects, and a
command that needs the admin (docs/protocol.md §4.3 "admin-gating") logs in first
(``41`` CHECK_ADMIN → ``30`` CHECK_RANDOM) unless this connection already did.
Every method returns a typed value (a :mod:`ttlock_hil.protocol.messages` reply class or
a small dataclass of this module) and raises the mapped
:class:`~ttlock_hil.harness.errors.TTLockError` on failure.

``init()`` — the add-admin flow (§4.3) with crash safety
---------------------------------------------------------
1. ``19`` GET_AES_KEY under the default key → the lock's new key K.
2. New admin password and unlock key are drawn; **the credentials (K, both
   values) are persisted atomically now, before ADD_ADMIN is sent.**
3. ``56`` ADD_ADMIN; on success **the credentials are persisted again**, before
   anything else goes to the lock.
4. ``43`` time, ``01`` features, feature-dependent reads (``62`` audio, ``59``
   passcode display, ``36`` auto-lock, ``65`` admin code, ``37`` remote
   unlock), ``57`` OPERATE_FINISHED, ``90`` device info 1–4 (+6 clock).

Why this order is safe when the process dies at any instant: before step 2's
write lands, the lock only holds an issued key, which it forgets when the link
drops (it stays in setting mode). From step 2 on, the file holds exactly what
ADD_ADMIN carries, so whether or not the lock got ADD_ADMIN, either it is
still in setting mode or the file opens it. The second write confirms the
same values after the lock accepted them (it changes nothing on disk when the
first one landed, and repairs the file if something rewrote it meanwhile).
``tests/unit/harness/test_init_crash.py`` kills a real process at every step.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar

from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.connection import Auth
from ttlock_hil.protocol.device import Clock
from ttlock_hil.protocol.errormap import LinkCondition
from ttlock_hil.protocol.errors import MessageError
from ttlock_hil.protocol.frame import V3_HEADER
from ttlock_hil.protocol.login import check_value
from ttlock_hil.protocol.messages import (
    END_OF_LIST,
    NEW_RECORDS,
    PERMANENT_END,
    PERMANENT_START,
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
    Feature,
    FeaturesReply,
    FrAckReply,
    FrAddedReply,
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
    IcClear,
    IcDelete,
    IcEnterAddMode,
    IcEntry,
    IcListReply,
    IcModify,
    IcQuery,
    LockDate,
    LockTimeReply,
    LogRecord,
    OperateFinished,
    OperateLogReply,
    PassageModeAckReply,
    PassageModeAdd,
    PassageModeClear,
    PassageModeDelete,
    PassageModeEntry,
    PassageModeListReply,
    PassageModeQuery,
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
    ReplyData,
    Request,
    ResetLock,
    SearchDeviceFeature,
    SearchStatus,
    SetAdminPasscode,
    ShowPasswordQuery,
    ShowPasswordReply,
    ShowPasswordSet,
    StatusReply,
    TimeCalibrate,
    Unlock,
    UnlockReply,
    parse_reply,
)

from .credentials import LockCredentials
from .errors import ConfigError
from .session import Answer, FinalPredicate, Session

__all__ = [
    "DeviceInfo",
    "EKeyWindow",
    "InitResult",
    "Lock",
]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=ReplyData)

_MAX_PAGES: Final = 256
"""Upper bound on list pages read in one call: a lock that never ends a list is a bug."""

_SECRET_LOW: Final = 10**8
_SECRET_HIGH: Final = 10**9
"""Admin password / unlock key range: the vendor draws 10-digit strings starting with
0 and parses them as int (§4.3 step 3), i.e. values below 10^9; we keep 9 digits."""

CredentialSink = Callable[[LockCredentials], Path]


@dataclass(frozen=True, slots=True)
class EKeyWindow:
    """An e-key's validity window for CHECK_USER_TIME (0x55): lock-local, minute precision."""

    start: LockDate
    end: LockDate

    @classmethod
    def of(cls, start: datetime | LockDate, end: datetime | LockDate) -> EKeyWindow:
        """From datetimes (seconds dropped) or lock dates."""
        return cls(_minute(start), _minute(end))

    @classmethod
    def permanent(cls) -> EKeyWindow:
        """The vendor's "permanent" window (2000-01-31 14:00 … 2099-11-30 14:00)."""
        return cls(PERMANENT_START, PERMANENT_END)


def _minute(value: datetime | LockDate) -> LockDate:
    date = value if isinstance(value, LockDate) else LockDate.of(value)
    return date.without_seconds()


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """READ_DEVICE_INFO (0x90) answers; ``None`` for items not read (§4.2, §4.3 step 8)."""

    model: str | None = None
    hardware: str | None = None
    firmware: str | None = None
    manufacture_date: str | None = None
    clock: LockDate | None = None
    """Item 6: the lock's clock (read on locks that are not NB-IoT, §4.3 step 8)."""


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``init()`` established. ``admin_code`` is secret (hidden from repr)."""

    credentials: LockCredentials
    credentials_path: Path
    features: FeaturesReply
    device_info: DeviceInfo
    audio: AudioReply | None = None
    show_password: ShowPasswordReply | None = None
    auto_lock: AutoLockReply | None = None
    remote_unlock: RemoteUnlockReply | None = None
    admin_code: str | None = field(default=None, repr=False)


class Lock:
    """Typed TTLock lock operations over one :class:`~ttlock_hil.harness.session.Session`.

    Built by :meth:`ttlock_hil.harness.lab.Lab.lock`. ``credentials`` may be ``None`` for a
    factory-fresh lock (``init()`` creates them); ``save`` persists new
    credentials atomically and returns the path; ``clock`` gives lock-local
    "now"; ``rng`` draws admin passwords and unlock keys.
    """

    def __init__(
        self,
        session: Session,
        *,
        credentials: LockCredentials | None,
        save: CredentialSink,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self._credentials = credentials
        self._save = save
        self._clock = clock
        self._rng = rng if rng is not None else random.SystemRandom()
        self._features: FeaturesReply | None = None

    def __repr__(self) -> str:
        return f"<Lock {self.name} {self._credentials!r}>"

    @property
    def name(self) -> str:
        return self.session.device

    @property
    def credentials(self) -> LockCredentials | None:
        """The credentials in use (``repr`` hides the secrets)."""
        return self._credentials

    @property
    def trace_path(self) -> Path:
        return self.session.trace_path

    # --- lifetime ----------------------------------------------------------------

    async def connect(self) -> None:
        """Connect now rather than on the first command."""
        await self.session.connect()

    async def disconnect(self) -> None:
        """Drop the connection (the login goes with it); the next command reconnects."""
        await self.session.disconnect()

    async def aclose(self) -> None:
        await self.session.aclose()

    async def __aenter__(self) -> Lock:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- plumbing ------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock.now()

    def _build(self, cls: type[Request], /, **values: Any) -> Request:
        try:
            return cls(**values)
        except MessageError as exc:
            raise self.session.error(
                LinkCondition.INVALID_PARAMETERS, str(exc), command=cls.COMMAND
            ) from exc

    async def _call(
        self,
        request: Request,
        *,
        deadline: float | None = None,
        final: FinalPredicate | None = None,
        on_progress: Callable[[bytes], object] | None = None,
    ) -> Answer:
        return await self.session.request(
            request.COMMAND,
            request.encode(),
            deadline=deadline,
            final=final,
            on_progress=on_progress,
        )

    def _data(self, answer: Answer, cls: type[R]) -> R:
        """The reply data as ``cls``; ReplyUnparseable (code 10034) when it is not."""
        try:
            return cls.decode(parse_reply(answer.plaintext).data)
        except MessageError as exc:
            raise self.session.error(
                LinkCondition.REPLY_UNPARSEABLE,
                f"reply is not a {cls.__name__}: {exc}",
                command=answer.command,
                raw_reply=answer.raw,
            ) from exc

    async def _ask(self, request: Request, cls: type[R], **kwargs: Any) -> R:
        return self._data(await self._call(request, **kwargs), cls)

    def _require_credentials(self) -> LockCredentials:
        if self._credentials is None:
            raise ConfigError(
                f"{self.name}: no credentials (the lock was never initialised by this lab)",
                field="credentials",
                fix="run init() on the factory-fresh lock, or give credentials: in the config",
            )
        return self._credentials

    async def _admin(self) -> LockCredentials:
        """Log in as admin unless this connection already is (41 → 30, §4.3)."""
        creds = self._require_credentials()
        if self.session.auth is not Auth.ADMIN:
            await self.login_admin()
        return creds

    def _proof(self, ps: int, creds: LockCredentials) -> int:
        check = check_value(ps, creds.unlock_key)
        self.session.redactor.add_u32(check)  # before the frame carrying it is traced
        return check

    def _persist(self, creds: LockCredentials, step: str) -> Path:
        path = self._save(creds)
        self.session.trace.event("credentials-saved", step=step, path=str(path))
        logger.info("%s: credentials saved (%s) to %s", self.name, step, path)
        return path

    # --- init ------------------------------------------------------------------------

    async def init(
        self,
        *,
        admin_ps: int | None = None,
        unlock_key: int | None = None,
        uid: int = 0,
        admin_passcode: str | None = None,
    ) -> InitResult:
        """Add this harness as the lock's admin (docs/protocol.md §4.3); see the module docstring.

        ``admin_ps``/``unlock_key`` default to fresh random values. With
        ``admin_passcode`` the keypad admin code is set (``53``) on locks
        without GET_ADMIN_CODE. The lock must be in setting mode (otherwise the
        lock answers NOT_IN_SETTING_MODE, code 7).
        """
        redactor = self.session.redactor
        key = (await self._ask(GetAesKey(), AesKeyReply)).key
        admin_ps = (
            admin_ps if admin_ps is not None else self._rng.randrange(_SECRET_LOW, _SECRET_HIGH)
        )
        unlock_key = (
            unlock_key if unlock_key is not None else self._rng.randrange(_SECRET_LOW, _SECRET_HIGH)
        )
        redactor.add_u32(admin_ps)
        redactor.add_u32(unlock_key)
        creds = LockCredentials(
            aes_key=key,
            admin_ps=admin_ps,
            unlock_key=unlock_key,
            lock_flag_pos=0,
            uid=uid,
            header=V3_HEADER,
        )
        redactor.add_credentials(creds)
        # The lock has handed over its key: keep what ADD_ADMIN is about to give it.
        self._persist(creds, "key-received")
        add_admin = self._build(AddAdmin, admin_ps=admin_ps, unlock_key=unlock_key)
        await self._ask(add_admin, AddAdminReply)
        path = self._persist(creds, "admin-added")
        self._credentials = creds
        self.session.use_credentials(creds.aes_key, creds.header)

        await self._call(TimeCalibrate(LockDate.of(self._now())))
        features = await self.features()
        audio = show = auto = remote = None
        admin_code: str | None = None
        if features.has(Feature.AUDIO_MANAGEMENT):
            audio = await self._ask(AudioQuery(), AudioReply)
        if features.has(Feature.PASSWORD_DISPLAY_OR_HIDE):
            show = await self._ask(ShowPasswordQuery(), ShowPasswordReply)
        if features.has(Feature.AUTO_LOCK):
            auto = await self._ask(AutoLockQuery(), AutoLockReply)
        if features.has(Feature.GET_ADMIN_CODE):
            admin_code = await self._read_admin_code()
        elif admin_passcode is not None:
            if not features.has(Feature.PASSCODE):
                raise self.session.error(
                    LinkCondition.UNSUPPORTED,
                    "admin_passcode= given but the lock has no keypad (no PASSCODE feature); "
                    "it is paired, its credentials are saved",
                    command=LockCommand.SET_ADMIN_KEYBOARD_PWD,
                )
            redactor.add_passcode(admin_passcode)
            await self._call(self._build(SetAdminPasscode, passcode=admin_passcode))
            admin_code = admin_passcode
        if features.has(Feature.CONFIG_GATEWAY_UNLOCK):
            remote = await self._ask(RemoteUnlockQuery(), RemoteUnlockReply)
        await self._call(OperateFinished())
        info = await self._read_device_info(features)
        return InitResult(
            credentials=creds,
            credentials_path=path,
            features=features,
            device_info=info,
            audio=audio,
            show_password=show,
            auto_lock=auto,
            remote_unlock=remote,
            admin_code=admin_code,
        )

    # --- logins ----------------------------------------------------------------------

    async def _check_admin(self, creds: LockCredentials) -> int:
        request = self._build(
            CheckAdmin, admin_ps=creds.admin_ps, flag_pos=creds.lock_flag_pos, uid=creds.uid
        )
        return (await self._ask(request, CheckAdminReply)).ps

    async def login_admin(self) -> None:
        """Admin login on this connection: ``41`` CHECK_ADMIN → ps → ``30`` CHECK_RANDOM."""
        creds = self._require_credentials()
        ps = await self._check_admin(creds)
        await self._call(CheckRandom(self._proof(ps, creds)))

    async def _challenge(self, creds: LockCredentials, ekey: EKeyWindow | None) -> int:
        if ekey is None:
            return await self._check_admin(creds)
        request = self._build(
            CheckUserTime,
            start=ekey.start,
            end=ekey.end,
            flag_pos=creds.lock_flag_pos,
            uid=creds.uid,
        )
        return (await self._ask(request, CheckUserTimeReply)).ps

    async def unlock(self, *, ekey: EKeyWindow | None = None) -> UnlockReply:
        """Unlock: as admin (``41`` → ``47``) or, with ``ekey``, as a user (``55`` → ``47``)."""
        creds = self._require_credentials()
        ps = await self._challenge(creds, ekey)
        request = Unlock(self._proof(ps, creds), int(self._now().timestamp()))
        return await self._ask(request, UnlockReply)

    async def lock(self, *, ekey: EKeyWindow | None = None) -> FunctionLockReply:
        """Lock the bolt (``58``): as admin or, with ``ekey``, as a user."""
        creds = self._require_credentials()
        ps = await self._challenge(creds, ekey)
        request = FunctionLock(self._proof(ps, creds), int(self._now().timestamp()))
        return await self._ask(request, FunctionLockReply)

    # --- state and clock ------------------------------------------------------------

    async def status(self) -> StatusReply:
        """Bolt state and battery (``14``; no login needed)."""
        return await self._ask(SearchStatus(), StatusReply)

    async def get_time(self) -> LockDate:
        """The lock's clock (``34``; no login needed)."""
        return (await self._ask(GetLockTime(), LockTimeReply)).date

    async def set_time(self, when: datetime | LockDate | None = None) -> None:
        """Set the lock's clock (``43``, admin); default: the lab clock's now."""
        await self._admin()
        date = when if isinstance(when, LockDate) else LockDate.of(when or self._now())
        await self._call(TimeCalibrate(date))

    async def features(self) -> FeaturesReply:
        """The feature bitmask and battery (``01``; no login needed)."""
        self._features = await self._ask(SearchDeviceFeature(), FeaturesReply)
        return self._features

    async def device_info(self) -> DeviceInfo:
        """Model, hardware, firmware, manufacture date (``90`` items 1-4, admin)."""
        await self._admin()
        return await self._read_device_info(self._features)

    async def _read_device_info(self, features: FeaturesReply | None) -> DeviceInfo:
        async def item(kind: DeviceInfoType) -> DeviceInfoReply:
            return await self._ask(ReadDeviceInfo(kind), DeviceInfoReply)

        model = (await item(DeviceInfoType.MODEL)).text
        hardware = (await item(DeviceInfoType.HARDWARE_REVISION)).text
        firmware = (await item(DeviceInfoType.FIRMWARE_REVISION)).text
        made = (await item(DeviceInfoType.MANUFACTURE_DATE)).text
        clock: LockDate | None = None
        # §4.3 step 8: NB locks answer 7..10 instead; the others have a clock item.
        if features is not None and not features.has(Feature.NB_LOCK):
            answer = await self._call(ReadDeviceInfo(DeviceInfoType.LOCK_CLOCK))
            value = self._data(answer, DeviceInfoReply).value
            try:
                clock = LockDate.from_bytes(value)
            except MessageError as exc:
                raise self.session.error(
                    LinkCondition.REPLY_UNPARSEABLE,
                    f"device info item 6 is not a lock date: {exc}",
                    command=answer.command,
                    raw_reply=answer.raw,
                ) from exc
        return DeviceInfo(model, hardware, firmware, made, clock)

    async def reset(self) -> None:
        """Factory reset (``52``, admin): the lock returns to setting mode.

        The stored credentials stay on disk (with their ``.bak``) but no longer
        open the lock; the next ``init()`` replaces them.
        """
        await self._admin()
        await self._call(ResetLock())
        self.session.trace.event("reset")

    # --- passcodes (0x03, 0x07) -------------------------------------------------------

    def _window(
        self, start: datetime | LockDate | None, end: datetime | LockDate | None
    ) -> tuple[LockDate, LockDate | None]:
        first = _minute(start) if start is not None else _minute(self._now())
        return first, (_minute(end) if end is not None else None)

    async def add_passcode(
        self,
        passcode: str,
        *,
        kind: PasscodeType = PasscodeType.PERMANENT,
        start: datetime | LockDate | None = None,
        end: datetime | LockDate | None = None,
    ) -> PasscodeReply:
        """Add a keypad passcode (permanent by default, valid from ``start``/now)."""
        self.session.redactor.add_passcode(passcode)
        first, last = self._window(start, end)
        request = self._build(
            PasscodeAdd, passcode_type=kind, passcode=passcode, start=first, end=last
        )
        await self._admin()
        return await self._ask(request, PasscodeReply)

    async def modify_passcode(
        self,
        old: str,
        new: str,
        *,
        kind: PasscodeType = PasscodeType.PERMANENT,
        start: datetime | LockDate | None = None,
        end: datetime | LockDate | None = None,
    ) -> PasscodeReply:
        """Change a passcode and its window (``end`` defaults to the permanent end)."""
        self.session.redactor.add_passcode(old)
        self.session.redactor.add_passcode(new)
        first, last = self._window(start, end)
        request = self._build(
            PasscodeModify,
            passcode_type=kind,
            old_passcode=old,
            new_passcode=new,
            start=first,
            end=last if last is not None else PERMANENT_END,
        )
        await self._admin()
        return await self._ask(request, PasscodeReply)

    async def delete_passcode(
        self, passcode: str, *, kind: PasscodeType = PasscodeType.PERMANENT
    ) -> PasscodeReply:
        """Delete one passcode."""
        self.session.redactor.add_passcode(passcode)
        request = self._build(PasscodeDelete, passcode_type=kind, passcode=passcode)
        await self._admin()
        return await self._ask(request, PasscodeReply)

    async def clear_passcodes(self) -> PasscodeReply:
        """Delete every passcode."""
        await self._admin()
        return await self._ask(PasscodeClear(), PasscodeReply)

    async def list_passcodes(self) -> tuple[PasscodeListEntry, ...]:
        """Every stored passcode (``07``, paged from sequence 0)."""
        await self._admin()
        entries: list[PasscodeListEntry] = []
        seq = 0
        for _ in range(_MAX_PAGES):
            page = await self._ask(GetPasscodeList(seq), PasscodeListReply)
            for entry in page.entries:
                self.session.redactor.add_passcode(entry.passcode)
                if entry.new_passcode:
                    self.session.redactor.add_passcode(entry.new_passcode)
            entries.extend(page.entries)
            if not page.entries or page.next_seq in (None, END_OF_LIST, seq):
                break
            seq = page.next_seq
        return tuple(entries)

    # --- IC cards (0x05) ---------------------------------------------------------------

    async def list_ic_cards(self) -> tuple[IcEntry, ...]:
        """Every stored card (``05`` op 1, paged until :data:`END_OF_LIST`)."""
        await self._admin()
        cards: list[IcEntry] = []
        seq = 0
        for _ in range(_MAX_PAGES):
            page = await self._ask(IcQuery(seq), IcListReply)
            cards.extend(page.cards)
            if not page.cards or page.next_seq in (END_OF_LIST, seq):
                break
            seq = page.next_seq
        return tuple(cards)

    async def add_ic_card(
        self,
        card: int | None = None,
        *,
        start: datetime | LockDate | None = None,
        end: datetime | LockDate | None = None,
        deadline: float | None = None,
        on_ready: Callable[[], object] | None = None,
    ) -> int:
        """Register a card; returns its number.

        With ``card`` the number is sent (``05`` op 2 with a window). Without,
        the lock enters card-reading mode and the call waits (``deadline`` s,
        default the command timeout) until a card is presented — ``on_ready()``
        is called when the lock says it is reading (a bench presents the card
        then) — and the window is set if ``start``/``end`` were given.
        """
        first, last = self._window(start, end)
        if card is not None:
            request = self._build(
                IcAdd, card=card, start=first, end=last if last is not None else PERMANENT_END
            )
            await self._admin()
            answer = await self._call(request, final=_added(IcAddedReply), deadline=deadline)
            return self._data(answer, IcAddedReply).card
        await self._admin()
        answer = await self._call(
            IcEnterAddMode(),
            final=_added(IcAddedReply),
            deadline=deadline,
            on_progress=_once(on_ready),
        )
        number = self._data(answer, IcAddedReply).card
        if start is not None or end is not None:
            await self.modify_ic_card(number, start=first, end=last or PERMANENT_END)
        return number

    async def modify_ic_card(
        self, card: int, *, start: datetime | LockDate, end: datetime | LockDate
    ) -> IcAckReply:
        """Change a card's validity window."""
        request = self._build(IcModify, card=card, start=_minute(start), end=_minute(end))
        await self._admin()
        return await self._ask(request, IcAckReply)

    async def delete_ic_card(self, card: int) -> IcAckReply:
        request = self._build(IcDelete, card=card)
        await self._admin()
        return await self._ask(request, IcAckReply)

    async def clear_ic_cards(self) -> IcAckReply:
        await self._admin()
        return await self._ask(IcClear(), IcAckReply)

    # --- fingerprints (0x06) -------------------------------------------------------------

    async def list_fingerprints(self) -> tuple[FrEntry, ...]:
        """Every stored fingerprint (``06`` op 6, paged until :data:`END_OF_LIST`)."""
        await self._admin()
        prints: list[FrEntry] = []
        seq = 0
        for _ in range(_MAX_PAGES):
            page = await self._ask(FrQuery(seq), FrListReply)
            prints.extend(page.fingerprints)
            if not page.fingerprints or page.next_seq in (END_OF_LIST, seq):
                break
            seq = page.next_seq
        return tuple(prints)

    async def add_fingerprint(
        self,
        *,
        start: datetime | LockDate | None = None,
        end: datetime | LockDate | None = None,
        deadline: float | None = None,
        on_ready: Callable[[], object] | None = None,
    ) -> int:
        """Enrol a finger on the lock's sensor; returns the fingerprint id.

        Waits (``deadline`` s) through the lock's progress replies (``06`` op 2
        statuses 2/3/4) for the final "added" one — ``on_ready()`` is called at
        the first (the lock waits for the finger) — then sets the window if
        ``start``/``end`` were given.
        """
        await self._admin()
        answer = await self._call(
            FrEnterAddMode(),
            final=_added(FrAddedReply),
            deadline=deadline,
            on_progress=_once(on_ready),
        )
        number = self._data(answer, FrAddedReply).fingerprint
        if start is not None or end is not None:
            first, last = self._window(start, end)
            await self.modify_fingerprint(number, start=first, end=last or PERMANENT_END)
        return number

    async def modify_fingerprint(
        self, fingerprint: int, *, start: datetime | LockDate, end: datetime | LockDate
    ) -> FrAckReply:
        request = self._build(
            FrModify, fingerprint=fingerprint, start=_minute(start), end=_minute(end)
        )
        await self._admin()
        return await self._ask(request, FrAckReply)

    async def delete_fingerprint(self, fingerprint: int) -> FrAckReply:
        request = self._build(FrDelete, fingerprint=fingerprint)
        await self._admin()
        return await self._ask(request, FrAckReply)

    async def clear_fingerprints(self) -> FrAckReply:
        await self._admin()
        return await self._ask(FrClear(), FrAckReply)

    # --- operation log (0x25) -------------------------------------------------------------

    async def operation_log(self, *, seq: int = NEW_RECORDS) -> tuple[LogRecord, ...]:
        """Log records from ``seq`` (default: the records the lock has not handed out yet).

        Reads pages until the lock answers an empty one (``total_len`` 0) or
        repeats its sequence (no login needed, §4.2).
        """
        records: list[LogRecord] = []
        for _ in range(_MAX_PAGES):
            page = await self._ask(self._build(GetOperateLog, seq=seq), OperateLogReply)
            for record in page.records:
                if record.passcode:
                    self.session.redactor.add_passcode(record.passcode)
                if record.new_passcode:
                    self.session.redactor.add_passcode(record.new_passcode)
            records.extend(page.records)
            if page.total_len == 0 or not page.records or page.seq in (None, seq, END_OF_LIST):
                break
            seq = page.seq
        return tuple(records)

    # --- settings -------------------------------------------------------------------------

    async def auto_lock(self) -> AutoLockReply:
        """The auto-lock delay and its bounds (``36`` op 1, admin)."""
        await self._admin()
        return await self._ask(AutoLockQuery(), AutoLockReply)

    async def set_auto_lock(self, seconds: int) -> AutoLockReply:
        """Set the auto-lock delay in seconds, 0 = off (``36`` op 2, admin)."""
        request = self._build(AutoLockSet, seconds=seconds)
        await self._admin()
        return await self._ask(request, AutoLockReply)

    async def audio(self) -> AudioReply:
        """The sound setting (``62`` op 1, admin)."""
        await self._admin()
        return await self._ask(AudioQuery(), AudioReply)

    async def set_audio(self, enabled: bool) -> AudioReply:
        await self._admin()
        return await self._ask(AudioSet(enabled), AudioReply)

    async def set_volume(self, level: int) -> AudioReply:
        """Sound on at volume ``level`` 1..5."""
        request = self._build(AudioSetVolume, level=level)
        await self._admin()
        return await self._ask(request, AudioReply)

    async def remote_unlock(self) -> RemoteUnlockReply:
        """Whether remote (gateway) unlock is enabled (``37`` op 1, admin)."""
        await self._admin()
        return await self._ask(RemoteUnlockQuery(), RemoteUnlockReply)

    async def set_remote_unlock(self, enabled: bool) -> RemoteUnlockReply:
        await self._admin()
        return await self._ask(RemoteUnlockSet(enabled), RemoteUnlockReply)

    async def show_password(self) -> ShowPasswordReply:
        """Whether passcodes are shown on the screen (``59`` op 1, admin)."""
        await self._admin()
        return await self._ask(ShowPasswordQuery(), ShowPasswordReply)

    async def set_show_password(self, visible: bool) -> ShowPasswordReply:
        await self._admin()
        return await self._ask(ShowPasswordSet(visible), ShowPasswordReply)

    async def admin_code(self) -> str:
        """The keypad admin code (``65``, admin). Secret: registered for redaction."""
        await self._admin()
        return await self._read_admin_code()

    async def _read_admin_code(self) -> str:
        # The code is learnt only once the reply is decoded; the 0x65 frame itself
        # is masked in traces (a secret-bearing opcode).
        reply = await self._ask(GetAdminCode(), AdminCodeReply)
        self.session.redactor.add_passcode(reply.code)
        return reply.code

    # --- passage mode (0x66) ----------------------------------------------------------------

    async def passage_modes(self) -> tuple[PassageModeEntry, ...]:
        """Every passage-mode period (``66`` op 1, paged by a one-byte sequence)."""
        await self._admin()
        entries: list[PassageModeEntry] = []
        seq = 0
        for _ in range(_MAX_PAGES):
            page = await self._ask(PassageModeQuery(seq), PassageModeListReply)
            entries.extend(page.entries)
            if not page.entries or page.seq in (seq, 0xFF):
                break
            seq = page.seq
        return tuple(entries)

    async def add_passage_mode(self, entry: PassageModeEntry) -> PassageModeAckReply:
        await self._admin()
        return await self._ask(PassageModeAdd(entry), PassageModeAckReply)

    async def delete_passage_mode(self, entry: PassageModeEntry) -> PassageModeAckReply:
        await self._admin()
        return await self._ask(PassageModeDelete(entry), PassageModeAckReply)

    async def clear_passage_modes(self) -> PassageModeAckReply:
        await self._admin()
        return await self._ask(PassageModeClear(), PassageModeAckReply)


def _once(callback: Callable[[], object] | None) -> Callable[[bytes], object] | None:
    """A progress callback calling ``callback()`` at the first progress reply only."""
    if callback is None:
        return None
    called = False

    def first(_plaintext: bytes) -> None:
        nonlocal called
        if not called:
            called = True
            callback()

    return first


def _added(cls: type[ReplyData]) -> FinalPredicate:
    """Final-reply predicate for enrolment: the reply whose data is ``cls`` (card/finger added)."""

    def is_added(plaintext: bytes) -> bool:
        try:
            cls.decode(parse_reply(plaintext).data)
        except MessageError:
            return False
        return True

    return is_added

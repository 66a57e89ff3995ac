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

Lists: one declaration, read the way hardware pages
----------------------------------------------------
Every list (passcodes, IC cards, fingerprints, the operate log, passage modes, a Wi-Fi
lock's power-saving windows) is read with the protocol's own paging declaration
(:mod:`ttlock_hil.protocol.messages.paging`, docs/protocol.md §10.3.7): one request per
page, the cursor sent back exactly as the lock gave it, until the list's end marker or
a cursor the lock already handed out. A page with several items is read whole.

When the link drops between the requests of one call (issue 18)
-----------------------------------------------------------------
A call that sends several requests may lose its link between two of them; the session
then reconnects for the next request, logged out. Each call decides what that means,
so the harness never provokes a permission code a single link would not get:

* **Reads that only need the admin** — :meth:`Lock.device_info` and every list — log in
  again on the new link (traced as ``login-again``) and go on; a list resumes at the
  cursor the lock gave last. Nothing is sent twice: a request whose own link drops
  still fails with 10003. (The operation log needs no login: it just resumes.)
* **Calls whose later requests depend on that very link** fail with
  :class:`CallInterrupted` — code 10003, a
  :class:`~ttlock_hil.harness.errors.Disconnected` — naming the step that was not sent
  (or whose reply was lost) and the steps done: :meth:`Lock.init` after GET_AES_KEY
  (the lock forgets a key it handed out with the link and stays in setting mode) and
  after ADD_ADMIN (the steps after it run on the init's own admin state; the lock is
  paired, the credentials are saved and this Lock keeps using them);
  :meth:`Lock.unlock` / :meth:`Lock.lock` after the challenge (a ps is good on the link
  it was given on only: the bolt did not move); a fingerprint template upload (the lock
  keeps the chunks on that link only).
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar

from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.connection import Auth
from ttlock_hil.protocol.device import Clock
from ttlock_hil.protocol.errormap import LinkCondition, link_code
from ttlock_hil.protocol.errors import MessageError
from ttlock_hil.protocol.frame import V3_HEADER
from ttlock_hil.protocol.login import check_value
from ttlock_hil.protocol.messages import (
    DEFAULT_WIFI_PORT,
    DEFAULT_WIFI_SERVER,
    FINGERPRINT_PAGING,
    IC_PAGING,
    LOG_PAGING,
    MAX_SEED_CODE,
    NEW_RECORDS,
    PASSAGE_MODE_PAGING,
    PASSCODE_PAGING,
    PERMANENT_END,
    PERMANENT_START,
    WIFI_SLEEP_PAGING,
    AckReply,
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
    CyclicAdd,
    CyclicClear,
    CyclicRemove,
    CyclicReply,
    CyclicUserType,
    DeviceInfoReply,
    DeviceInfoType,
    Feature,
    FeaturesReply,
    FrAckReply,
    FrAdd,
    FrAddedReply,
    FrClear,
    FrDelete,
    FrEnterAddMode,
    FrEntry,
    FrModify,
    FrTemplateChunk,
    FrTemplateChunkReply,
    FrTemplateHeader,
    FrTemplateReadyReply,
    FunctionLock,
    FunctionLockReply,
    GetAdminCode,
    GetAesKey,
    GetLockTime,
    HotelGet,
    HotelReply,
    HotelSet,
    IcAckReply,
    IcAdd,
    IcAddedReply,
    IcClear,
    IcDelete,
    IcEnterAddMode,
    IcEntry,
    IcModify,
    InitPasswords,
    IpMode,
    ListPaging,
    LockDate,
    LockTimeReply,
    LogRecord,
    NbAwakeModesReply,
    NbAwakeQuery,
    NbAwakeSetModes,
    NbAwakeSetReply,
    NbAwakeSetTimes,
    NbAwakeTime,
    NbAwakeTimesReply,
    NbAwakeWhat,
    NbServerAddress,
    OperateFinished,
    PassageModeAckReply,
    PassageModeAdd,
    PassageModeClear,
    PassageModeDelete,
    PassageModeEntry,
    PasscodeAdd,
    PasscodeClear,
    PasscodeDelete,
    PasscodeListEntry,
    PasscodeModify,
    PasscodeRecover,
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
    SwitchItem,
    SwitchQuery,
    SwitchReply,
    SwitchSet,
    TimeCalibrate,
    Unlock,
    UnlockReply,
    WifiConfigAccount,
    WifiConfigAp,
    WifiConfigServer,
    WifiConfigStaticIp,
    WifiGetInfo,
    WifiInfoReply,
    WifiNetworkReply,
    WifiScan,
    WifiScanEndReply,
    WifiSleepAckReply,
    WifiSleepAdd,
    WifiSleepClear,
    parse_reply,
)

from .credentials import LockCredentials
from .errors import ConfigError, Disconnected
from .session import Answer, FinalPredicate, Session

__all__ = [
    "CallInterrupted",
    "DeviceInfo",
    "EKeyWindow",
    "InitResult",
    "Lock",
]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=ReplyData)
T = TypeVar("T")

_MAX_PAGES: Final = 4096
"""Upper bound on list pages read in one call (hardware sends one item per page, §10.3.7,
and no store holds more than a few thousand): beyond it the lock is not ending its list."""

_LOGIN_TRIES: Final = 3
"""Admin logins one call makes before it gives up on a link that keeps dropping."""

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


class CallInterrupted(Disconnected):
    """A call of several requests lost its link between two of them (code 10003).

    ``call`` is the Lock method (``"init"``), ``step`` the request that was not sent —
    or, with ``sent`` true, whose reply the drop took — and ``done`` the steps that
    completed, in order. The message says what state that leaves the lock in.
    """

    def __init__(
        self,
        message: str = "",
        *,
        call: str,
        step: str,
        sent: bool,
        done: Sequence[str],
        **fields: Any,
    ) -> None:
        self.call = call
        self.step = step
        self.sent = sent
        self.done = tuple(done)
        super().__init__(message, **fields)


@dataclass(slots=True)
class _Steps:
    """Requests of one call that must share one link (see the module docstring).

    ``connection`` is the link's app role when the call began to depend on it;
    ``state`` says, for the error message, what the lock holds at that point.
    """

    lock: Lock
    call: str
    connection: object | None
    done: list[str]
    state: str
    advice: str
    explain_lost_replies: bool = False
    """Also turn a drop *during* a step (the session's own 10003) into a
    :class:`CallInterrupted` that says what was done (init: where it stopped)."""

    async def run(self, step: str, command: int, action: Callable[[], Awaitable[T]]) -> T:
        """Run ``action`` (one request) on the same link, or raise :class:`CallInterrupted`."""
        if self.connection is None or self.lock._connection() is not self.connection:
            raise self.interrupted(step, command, sent=False)
        try:
            result = await action()
        except CallInterrupted:
            raise
        except Disconnected as exc:
            if not self.explain_lost_replies:
                raise
            raise self.interrupted(step, command, sent=True) from exc
        self.done.append(step)
        return result

    def interrupted(self, step: str, command: int, *, sent: bool) -> CallInterrupted:
        session = self.lock.session
        where = (
            f"the link dropped while {step} was pending: whether the lock acted on it is unknown"
            if sent
            else f"the link dropped before {step} was sent"
        )
        done = ", ".join(self.done) or "nothing"
        message = f"{self.call}() stopped at {step}: {where}; done: {done}. {self.state}"
        session.trace.event(
            "call-interrupted", call=self.call, step=step, sent=sent, done=list(self.done)
        )
        return CallInterrupted(
            message,
            call=self.call,
            step=step,
            sent=sent,
            done=self.done,
            code=link_code(LinkCondition.DISCONNECTED, session.plugin_version),
            command=command,
            device=session.device,
            trace_path=session.trace_path,
            advice=self.advice,
        )


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
        self._admin_link: object | None = None
        """The app role of the link the last admin login succeeded on."""

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
        """Log in as admin unless this connection already is (41 → 30, §4.3).

        After a drop the new link is logged out: the login is made again, traced as
        ``login-again`` (the reads of the module docstring rely on it between requests).
        """
        creds = self._require_credentials()
        for _ in range(_LOGIN_TRIES):
            if self.session.auth is Auth.ADMIN:
                return creds
            if self._admin_link is not None:
                # A new link since the last login, or the link dropped right after it.
                self.session.trace.event("login-again", reason="a new link since the last login")
                logger.info("%s: logging in again on a new link", self.name)
            try:
                await self.login_admin()
            except CallInterrupted as exc:
                if exc.sent:
                    raise
                # The link dropped between 41 and 30, before 30 went out: start over.
                self._admin_link = None
                self.session.trace.event("login-again", reason="the link dropped inside the login")
        if self.session.auth is Auth.ADMIN:
            return creds
        raise self.session.error(
            LinkCondition.DISCONNECTED,
            f"the link dropped around each of {_LOGIN_TRIES} admin logins",
            command=LockCommand.CHECK_ADMIN,
        )

    def _connection(self) -> object | None:
        """The current link's identity (its app role), ``None`` while it is down."""
        return self.session.app if self.session.connected else None

    def _steps(
        self,
        call: str,
        *,
        done: Sequence[str],
        state: str,
        advice: str,
        explain_lost_replies: bool = False,
    ) -> _Steps:
        """Requests of ``call`` that must stay on the current link from now on."""
        return _Steps(
            self, call, self._connection(), list(done), state, advice, explain_lost_replies
        )

    async def _read_list(
        self,
        paging: ListPaging[Any, Any, T],
        *,
        admin: bool = True,
        first: int | None = None,
    ) -> tuple[T, ...]:
        """A whole list, page by page as the lock gives it (docs/protocol.md §10.3.7).

        ``admin``: every page needs the admin, logged in again if a drop came between
        two pages; the list then resumes at the last cursor.
        """
        items: list[T] = []
        asked: list[int] = []
        cursor: int | None = paging.first if first is None else first
        while cursor is not None:
            if len(asked) >= _MAX_PAGES:
                raise self.session.error(
                    LinkCondition.REPLY_UNPARSEABLE,
                    f"the {paging.name} list did not end after {_MAX_PAGES} pages",
                    command=paging.command,
                )
            if admin:
                await self._admin()
            try:
                request = paging.request(cursor)
            except MessageError as exc:
                raise self.session.error(
                    LinkCondition.INVALID_PARAMETERS, str(exc), command=paging.command
                ) from exc
            asked.append(cursor)
            page = await self._ask(request, paging.reply_type)
            items.extend(paging.items(page))
            cursor = paging.follow(page, asked)
        return tuple(items)

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
        path = self._persist(creds, "key-received")
        add_admin = self._build(AddAdmin, admin_ps=admin_ps, unlock_key=unlock_key)
        before = self._steps(
            "init",
            done=["GET_AES_KEY"],
            state=(
                "A lock forgets a key it handed out with the link: if it still advertises "
                f"setting mode, nothing changed; if not, the credentials saved in {path} open it."
            ),
            advice="run init() again on a lock in setting mode",
            explain_lost_replies=True,
        )
        await before.run(
            "ADD_ADMIN", LockCommand.ADD_ADMIN, lambda: self._ask(add_admin, AddAdminReply)
        )
        path = self._persist(creds, "admin-added")
        self._credentials = creds
        self.session.use_credentials(creds.aes_key, creds.header)
        steps = self._steps(
            "init",
            done=before.done,
            state=(
                f"The lock is paired: the credentials saved in {path} open it and this Lock "
                "uses them."
            ),
            advice=(
                "do not run init() again (the lock left setting mode): read what is "
                "missing with features(), device_info() and the settings' getters"
            ),
            explain_lost_replies=True,
        )
        return await self._finish_init(steps, creds, path, admin_passcode)

    async def _finish_init(
        self,
        steps: _Steps,
        creds: LockCredentials,
        path: Path,
        admin_passcode: str | None,
    ) -> InitResult:
        """§4.3 steps 4-8, on the link ADD_ADMIN succeeded on (its admin state)."""
        redactor = self.session.redactor
        now = LockDate.of(self._now())
        c = LockCommand
        await steps.run("TIME_CALIBRATE", c.TIME_CALIBRATE, lambda: self._call(TimeCalibrate(now)))
        features = await steps.run("SEARCH_DEVICE_FEATURE", c.SEARCH_DEVICE_FEATURE, self.features)
        audio = show = auto = remote = None
        admin_code: str | None = None
        if features.has(Feature.AUDIO_MANAGEMENT):
            audio = await steps.run(
                "AUDIO_MANAGE", c.AUDIO_MANAGE, lambda: self._ask(AudioQuery(), AudioReply)
            )
        if features.has(Feature.PASSWORD_DISPLAY_OR_HIDE):
            show = await steps.run(
                "SHOW_PASSWORD",
                c.SHOW_PASSWORD,
                lambda: self._ask(ShowPasswordQuery(), ShowPasswordReply),
            )
        if features.has(Feature.AUTO_LOCK):
            auto = await steps.run(
                "AUTO_LOCK_MANAGE",
                c.AUTO_LOCK_MANAGE,
                lambda: self._ask(AutoLockQuery(), AutoLockReply),
            )
        if features.has(Feature.GET_ADMIN_CODE):
            admin_code = await steps.run("GET_ADMIN_CODE", c.GET_ADMIN_CODE, self._read_admin_code)
        elif admin_passcode is not None:
            if not features.has(Feature.PASSCODE):
                raise self.session.error(
                    LinkCondition.UNSUPPORTED,
                    "admin_passcode= given but the lock has no keypad (no PASSCODE feature); "
                    "it is paired, its credentials are saved",
                    command=LockCommand.SET_ADMIN_KEYBOARD_PWD,
                )
            redactor.add_passcode(admin_passcode)
            request = self._build(SetAdminPasscode, passcode=admin_passcode)
            await steps.run(
                "SET_ADMIN_KEYBOARD_PWD", c.SET_ADMIN_KEYBOARD_PWD, lambda: self._call(request)
            )
            admin_code = admin_passcode
        if features.has(Feature.CONFIG_GATEWAY_UNLOCK):
            remote = await steps.run(
                "CONTROL_REMOTE_UNLOCK",
                c.CONTROL_REMOTE_UNLOCK,
                lambda: self._ask(RemoteUnlockQuery(), RemoteUnlockReply),
            )
        await steps.run(
            "OPERATE_FINISHED", c.OPERATE_FINISHED, lambda: self._call(OperateFinished())
        )
        info = await self._read_device_info(features, steps)
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
        steps = self._steps(
            "login_admin",
            done=["CHECK_ADMIN"],
            state="The connection is not logged in.",
            advice="log in again (the next admin command does it by itself)",
        )
        await steps.run(
            "CHECK_RANDOM",
            LockCommand.CHECK_RANDOM,
            lambda: self._call(CheckRandom(self._proof(ps, creds))),
        )
        self._admin_link = steps.connection

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

    async def _operate(self, call: str, ekey: EKeyWindow | None, cls: type[R]) -> R:
        creds = self._require_credentials()
        ps = await self._challenge(creds, ekey)
        command = Unlock.COMMAND if cls is UnlockReply else FunctionLock.COMMAND
        request_type = Unlock if cls is UnlockReply else FunctionLock
        request = request_type(self._proof(ps, creds), int(self._now().timestamp()))
        steps = self._steps(
            call,
            done=["CHECK_USER_TIME" if ekey is not None else "CHECK_ADMIN"],
            state="A challenge is good on the link it was given on only.",
            advice=f"call {call}() again: it asks for a new challenge on the new link",
        )
        return await steps.run(LockCommand(command).name, command, lambda: self._ask(request, cls))

    async def unlock(self, *, ekey: EKeyWindow | None = None) -> UnlockReply:
        """Unlock: as admin (``41`` → ``47``) or, with ``ekey``, as a user (``55`` → ``47``).

        A drop between the two is :class:`CallInterrupted` (10003): the bolt did not move.
        """
        return await self._operate("unlock", ekey, UnlockReply)

    async def lock(self, *, ekey: EKeyWindow | None = None) -> FunctionLockReply:
        """Lock the bolt (``58``): as admin or, with ``ekey``, as a user (as :meth:`unlock`)."""
        return await self._operate("lock", ekey, FunctionLockReply)

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
        """Model, hardware, firmware, manufacture date (``90`` items 1-4, admin), and the
        clock (item 6) once :meth:`features` said the lock is not NB-IoT.

        Five requests: a drop between two of them means a new login, then the next item.
        """
        return await self._read_device_info(self._features)

    async def _read_device_info(
        self, features: FeaturesReply | None, steps: _Steps | None = None
    ) -> DeviceInfo:
        """Items 1-4 (+6 on locks that are not NB-IoT). ``steps``: inside init() (one link);
        without, each item logs in again when a drop came before it (module docstring)."""

        async def item(kind: DeviceInfoType) -> Answer:
            request = ReadDeviceInfo(kind)
            if steps is not None:
                step = f"READ_DEVICE_INFO item {int(kind)}"
                return await steps.run(step, request.COMMAND, lambda: self._call(request))
            await self._admin()
            return await self._call(request)

        def text(answer: Answer) -> str:
            return self._data(answer, DeviceInfoReply).text

        model = text(await item(DeviceInfoType.MODEL))
        hardware = text(await item(DeviceInfoType.HARDWARE_REVISION))
        firmware = text(await item(DeviceInfoType.FIRMWARE_REVISION))
        made = text(await item(DeviceInfoType.MANUFACTURE_DATE))
        clock: LockDate | None = None
        # §4.3 step 8: NB locks answer 7..10 instead; the others have a clock item.
        if features is not None and not features.has(Feature.NB_LOCK):
            answer = await item(DeviceInfoType.LOCK_CLOCK)
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
        """Every stored passcode (``07``, paged as the lock gives it, §10.3.7)."""
        entries = await self._read_list(PASSCODE_PAGING)
        for entry in entries:
            self.session.redactor.add_passcode(entry.passcode)
            if entry.new_passcode:
                self.session.redactor.add_passcode(entry.new_passcode)
        return entries

    async def recover_passcode(
        self,
        passcode: str,
        *,
        kind: PasscodeType = PasscodeType.PERMANENT,
        start: datetime | LockDate | None = None,
        end: datetime | LockDate | None = None,
        cycle_type: int | None = None,
    ) -> PasscodeReply:
        """Write a passcode back with its window (``03`` op 6, §10.2.1), e.g. after a
        firmware upgrade: ``end`` for period passcodes, ``cycle_type`` for cyclic ones."""
        self.session.redactor.add_passcode(passcode)
        first, last = self._window(start, end)
        request = self._build(
            PasscodeRecover,
            passcode_type=kind,
            old_passcode=passcode,
            new_passcode=passcode,
            start=first,
            end=last,
            cycle_type=cycle_type,
        )
        await self._admin()
        return await self._ask(request, PasscodeReply)

    async def reset_passcodes(
        self, seeds: Sequence[tuple[int, int]] | None = None
    ) -> InitPasswords:
        """Give the keypad ten years of offline-passcode seeds (``31``, §10.3.1).

        ``seeds`` are ``(code, secret)`` pairs; by default ten are drawn the vendor's
        way (distinct codes 0..1070, each secret a permutation of the digits 0-9). The
        request is returned (secrets hidden from its repr) for whoever derives passcodes.
        """
        if seeds is None:
            codes = self._rng.sample(range(MAX_SEED_CODE + 1), 10)
            secrets = [int("".join(self._rng.sample("0123456789", 10))) for _ in codes]
            seeds = list(zip(codes, secrets, strict=True))
        try:
            request = InitPasswords.of(LockDate.of(self._now()), seeds)
        except MessageError as exc:
            raise self.session.error(
                LinkCondition.INVALID_PARAMETERS, str(exc), command=InitPasswords.COMMAND
            ) from exc
        await self._admin()
        await self._ask(request, AckReply)
        return request

    # --- IC cards (0x05) ---------------------------------------------------------------

    async def list_ic_cards(self) -> tuple[IcEntry, ...]:
        """Every stored card (``05`` op 1, paged until ``nextSeq`` 0xFFFF, §10.3.7)."""
        return await self._read_list(IC_PAGING)

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
        """Every stored fingerprint (``06`` op 6, paged until ``nextSeq`` 0xFFFF, §10.3.7)."""
        return await self._read_list(FINGERPRINT_PAGING)

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

        One record per page, until the lock answers an empty one (``totalLen`` 0) or hands
        back a cursor already read (§10.3.7). No login needed (§4.2); a drop between two
        pages only means the next one goes out on a new link.
        """
        records = await self._read_list(LOG_PAGING, admin=False, first=seq)
        for record in records:
            if record.passcode:
                self.session.redactor.add_passcode(record.passcode)
            if record.new_passcode:
                self.session.redactor.add_passcode(record.new_passcode)
        return records

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
        """Every passage-mode period (``66`` op 1, paged until ``nextSeq`` 0xFF, §10.3.7)."""
        return await self._read_list(PASSAGE_MODE_PAGING)

    async def add_passage_mode(self, entry: PassageModeEntry) -> PassageModeAckReply:
        await self._admin()
        return await self._ask(PassageModeAdd(entry), PassageModeAckReply)

    async def delete_passage_mode(self, entry: PassageModeEntry) -> PassageModeAckReply:
        await self._admin()
        return await self._ask(PassageModeDelete(entry), PassageModeAckReply)

    async def clear_passage_modes(self) -> PassageModeAckReply:
        await self._admin()
        return await self._ask(PassageModeClear(), PassageModeAckReply)

    # --- fingerprint templates and recovery (0x06, §10.2.2) ----------------------------------

    async def add_fingerprint_by_id(
        self,
        fingerprint: int,
        *,
        start: datetime | LockDate | None = None,
        end: datetime | LockDate | None = None,
    ) -> int:
        """Add back a known fingerprint id with a window (``06`` op 2, the recovery form)."""
        first, last = self._window(start, end)
        request = self._build(
            FrAdd, fingerprint=fingerprint, start=first, end=last or PERMANENT_END
        )
        await self._admin()
        return (await self._ask(request, FrAddedReply)).fingerprint

    async def write_fingerprint_template(
        self,
        template: bytes,
        *,
        temp_no: int = 1,
        start: datetime | LockDate | None = None,
        end: datetime | LockDate | None = None,
        deadline: float | None = None,
    ) -> int:
        """Upload a fingerprint template (§10.2.2); returns the id the lock gives it.

        The header (``06`` op 2 with length and checksum) draws "ready" with the chunk
        size; the chunks (op 7) follow, each acknowledged; after the last the lock adds
        the finger. The lock keeps the chunks on this link only: a drop between two is
        :class:`CallInterrupted`, and the upload starts over.
        """
        first, last = self._window(start, end)
        try:
            header = FrTemplateHeader.for_template(
                template, temp_no=temp_no, start=first, end=last or PERMANENT_END
            )
        except MessageError as exc:
            raise self.session.error(
                LinkCondition.INVALID_PARAMETERS, str(exc), command=FrTemplateHeader.COMMAND
            ) from exc
        await self._admin()
        ready = await self._ask(header, FrTemplateReadyReply)
        chunks = FrTemplateChunk.split(template, ready.packet_len)[ready.seq :]
        steps = self._steps(
            "write_fingerprint_template",
            done=["template header"],
            state="The lock drops a half-received template with the link.",
            advice="call write_fingerprint_template() again",
        )
        c = LockCommand.FR_MANAGE
        for chunk in chunks[:-1]:
            await steps.run(f"chunk {chunk.seq}", c, functools.partial(self._ack_chunk, chunk))
        last_chunk = chunks[-1]
        answer = await steps.run(
            f"chunk {last_chunk.seq}",
            c,
            lambda: self._call(last_chunk, final=_added(FrAddedReply), deadline=deadline),
        )
        return self._data(answer, FrAddedReply).fingerprint

    async def _ack_chunk(self, chunk: FrTemplateChunk) -> FrTemplateChunkReply:
        return await self._ask(chunk, FrTemplateChunkReply)

    # --- cyclic windows of cards and fingerprints (0x70, §10.3.5) ----------------------------

    def _cyclic(
        self,
        cls: type[CyclicAdd] | type[CyclicRemove],
        user_type: CyclicUserType,
        user: int,
        *,
        weekday: int,
        start: tuple[int, int],
        end: tuple[int, int],
    ) -> CyclicAdd | CyclicRemove:
        try:
            return cls.weekly(user_type, user, weekday, start, end)
        except (MessageError, OverflowError) as exc:
            raise self.session.error(
                LinkCondition.INVALID_PARAMETERS, str(exc), command=LockCommand.CYCLIC_CMD
            ) from exc

    async def add_cyclic_window(
        self,
        user_type: CyclicUserType,
        user: int,
        *,
        weekday: int,
        start: tuple[int, int],
        end: tuple[int, int],
    ) -> CyclicReply:
        """A weekly window for a card or fingerprint (``70`` op 2): ``weekday`` 1..7 =
        Monday..Sunday, ``start``/``end`` as (hour, minute). Clear before you set (§10.3.5)."""
        request = self._cyclic(CyclicAdd, user_type, user, weekday=weekday, start=start, end=end)
        await self._admin()
        return await self._ask(request, CyclicReply)

    async def remove_cyclic_window(
        self,
        user_type: CyclicUserType,
        user: int,
        *,
        weekday: int,
        start: tuple[int, int],
        end: tuple[int, int],
    ) -> CyclicReply:
        """Remove one window (``70`` op 3)."""
        request = self._cyclic(CyclicRemove, user_type, user, weekday=weekday, start=start, end=end)
        await self._admin()
        return await self._ask(request, CyclicReply)

    async def clear_cyclic_windows(
        self, user_type: CyclicUserType, user: int | None = None
    ) -> CyclicReply:
        """Every window of ``user``, or of every user of ``user_type`` (``70`` op 4)."""
        raw = (
            b""
            if user is None
            else self._cyclic(CyclicAdd, user_type, user, weekday=1, start=(0, 0), end=(0, 1)).user
        )
        await self._admin()
        return await self._ask(CyclicClear(user_type, raw), CyclicReply)

    # --- Wi-Fi locks (§10.1) --------------------------------------------------------------

    async def scan_wifi(self, *, deadline: float | None = None) -> tuple[WifiNetworkReply, ...]:
        """The networks a Wi-Fi lock sees (``F2``): one reply each, then the end (§10.1.2).

        No login (both vendor SDKs scan right after connecting, §10.1.1).
        """
        answer = await self._call(WifiScan(), final=_added(WifiScanEndReply), deadline=deadline)
        networks: list[WifiNetworkReply] = []
        for plaintext in answer.progress:
            try:
                networks.append(WifiNetworkReply.decode(parse_reply(plaintext).data))
            except MessageError as exc:
                raise self.session.error(
                    LinkCondition.REPLY_UNPARSEABLE,
                    f"a scan result is not a WifiNetworkReply: {exc}",
                    command=answer.command,
                ) from exc
        return tuple(networks)

    async def configure_wifi(
        self, ssid: str, password: str, *, deadline: float | None = None
    ) -> AckReply:
        """Join a network (``F3``): the lock answers "processing" (0x24) at once and the
        outcome later — 37 (0x25) for an unknown network, 38 (0x26) for a wrong password
        (§10.1.3). Logs in first, as the newest SDK does (harmless where not needed)."""
        self.session.redactor.add_text(password)
        request = self._build(WifiConfigAp, ssid=ssid, password=password)
        await self._admin()
        return await self._ask(request, AckReply, deadline=deadline)

    async def configure_wifi_server(
        self, host: str = DEFAULT_WIFI_SERVER, port: int = DEFAULT_WIFI_PORT
    ) -> AckReply:
        """The server a Wi-Fi lock reports to (``F5``, §10.1.4)."""
        request = self._build(WifiConfigServer, host=host, port=port)
        await self._admin()
        return await self._ask(request, AckReply)

    async def configure_wifi_ip(
        self,
        *,
        ip: str | None = None,
        mask: str = "0.0.0.0",
        router: str = "0.0.0.0",
        dns1: str = "0.0.0.0",
        dns2: str = "0.0.0.0",
    ) -> AckReply:
        """A static address (``F4``, §10.1.5), or DHCP when ``ip`` is None."""
        if ip is None:
            request = self._build(WifiConfigStaticIp, mode=IpMode.DHCP)
        else:
            request = self._build(
                WifiConfigStaticIp,
                mode=IpMode.STATIC,
                ip=ip,
                mask=mask,
                router=router,
                dns1=dns1,
                dns2=dns2,
            )
        await self._admin()
        return await self._ask(request, AckReply)

    async def wifi_info(self) -> WifiInfoReply:
        """The Wi-Fi MAC and signal (``F6``, §10.1.6; no login, like the SDKs)."""
        return await self._ask(WifiGetInfo(), WifiInfoReply)

    async def configure_wifi_account(self, *, uid: int, password: str, name: str) -> AckReply:
        """Bind the lock, as a gateway, to an account (``FA``, after admin login, §10.1.7)."""
        self.session.redactor.add_text(password)
        try:
            request = WifiConfigAccount.with_password(uid=uid, password=password, name=name)
        except MessageError as exc:
            raise self.session.error(
                LinkCondition.INVALID_PARAMETERS, str(exc), command=WifiConfigAccount.COMMAND
            ) from exc
        await self._admin()
        return await self._ask(request, AckReply)

    async def wifi_power_saving(self) -> tuple[PassageModeEntry, ...]:
        """The power-saving windows (``8F`` op 1, paged until ``nextSeq`` 0xFF, §10.1.8)."""
        return await self._read_list(WIFI_SLEEP_PAGING)

    async def add_wifi_power_saving(
        self, weekday: int, *, start: tuple[int, int], end: tuple[int, int]
    ) -> WifiSleepAckReply:
        """One weekly window (``8F`` op 2): ``weekday`` 1..7 = Monday..Sunday."""
        request = self._build(
            WifiSleepAdd,
            weekday=weekday,
            start_hour=start[0],
            start_minute=start[1],
            end_hour=end[0],
            end_minute=end[1],
        )
        await self._admin()
        return await self._ask(request, WifiSleepAckReply)

    async def clear_wifi_power_saving(self) -> WifiSleepAckReply:
        """Delete every power-saving window (``8F`` op 4)."""
        await self._admin()
        return await self._ask(WifiSleepClear(), WifiSleepAckReply)

    async def switches(self) -> SwitchReply:
        """The switch items the lock has and their values (``68`` op 1, §10.1.9)."""
        await self._admin()
        return await self._ask(SwitchQuery(), SwitchReply)

    async def set_switch(self, item: SwitchItem, on: bool) -> SwitchReply:
        """Turn one item on or off the SDK's way: read, change that bit, write back the
        item mask read (§10.1.9). For :attr:`SwitchItem.WIFI_LONG_CONNECTION` on means
        no power saving."""
        current = await self.switches()
        items = current.items or 0
        values = current.values or 0
        values = values | item if on else values & ~item
        request = self._build(SwitchSet, items=items | item, values=values)
        return await self._ask(request, SwitchReply)

    # --- hotel locks (0x64, §10.3.4) -------------------------------------------------------

    async def hotel_parameter(self, para_type: int) -> bytes:
        """One hotel parameter's value (``64`` op 1); empty when never set."""
        request = self._build(HotelGet, para_type=para_type)
        await self._admin()
        return (await self._ask(request, HotelReply)).value or b""

    async def set_hotel_parameter(self, request: HotelSet) -> HotelReply:
        """Set one (``64`` op 2): build it with :class:`HotelSet`'s classmethods."""
        await self._admin()
        return await self._ask(request, HotelReply)

    # --- NB-IoT locks (0x12, 0x13, §10.3.3) ---------------------------------------------------

    async def set_nb_server(self, host: str, port: int) -> AckReply:
        """The NB-IoT server the lock reports to (``12``)."""
        request = self._build(NbServerAddress, port=port, host=host)
        await self._admin()
        return await self._ask(request, AckReply)

    async def nb_awake_modes(self) -> int:
        """Wake-up mode bits (``13`` get modes; :class:`NbAwakeMode`)."""
        await self._admin()
        return (await self._ask(NbAwakeQuery(NbAwakeWhat.MODES), NbAwakeModesReply)).modes

    async def set_nb_awake_modes(self, modes: int) -> NbAwakeSetReply:
        request = self._build(NbAwakeSetModes, modes=modes)
        await self._admin()
        return await self._ask(request, NbAwakeSetReply)

    async def nb_awake_times(self) -> tuple[NbAwakeTime, ...]:
        """Wake-up times (``13`` get times)."""
        await self._admin()
        return (await self._ask(NbAwakeQuery(NbAwakeWhat.TIMES), NbAwakeTimesReply)).times

    async def set_nb_awake_times(self, times: Sequence[NbAwakeTime]) -> NbAwakeSetReply:
        request = self._build(NbAwakeSetTimes, times=tuple(times))
        await self._admin()
        return await self._ask(request, NbAwakeSetReply)


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

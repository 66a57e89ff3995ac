"""The lock command registry: every opcode with a documented layout → its message classes.

:data:`LOCK_MESSAGES` lists, per opcode, the request variants and the reply-data
variants in the order :func:`decode_request` and :func:`decode_reply_data` try them
(the first whose layout fits wins). The classes live in
:mod:`~ttlock_hil.protocol.messages.lock` (docs/protocol.md §4),
:mod:`~ttlock_hil.protocol.messages.lock_extra` (§10.2, §10.3) and
:mod:`~ttlock_hil.protocol.messages.wifi` (§10.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ..commands import LockCommand
from ..errors import MessageError
from ._fields import decode_variants
from .lock import (
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
    DeviceInfoReply,
    EmptyReply,
    FeaturesReply,
    FrAckReply,
    FrAddedReply,
    FrAddProgressReply,
    FrClear,
    FrDelete,
    FrEnterAddMode,
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
    IcListReply,
    IcModify,
    IcQuery,
    Initialization,
    LockTimeReply,
    OperateFinished,
    OperateLogReply,
    PassageModeAckReply,
    PassageModeAdd,
    PassageModeClear,
    PassageModeDelete,
    PassageModeListReply,
    PassageModeQuery,
    PasscodeAdd,
    PasscodeClear,
    PasscodeDelete,
    PasscodeListReply,
    PasscodeModify,
    PasscodeReply,
    RawReply,
    ReadDeviceInfo,
    RemoteUnlockQuery,
    RemoteUnlockReply,
    RemoteUnlockSet,
    Reply,
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
)
from .lock_extra import (
    CyclicAdd,
    CyclicClear,
    CyclicRemove,
    CyclicReply,
    FrAdd,
    FrTemplateChunk,
    FrTemplateChunkReply,
    FrTemplateHeader,
    FrTemplateReadyReply,
    HotelGet,
    HotelReply,
    HotelSet,
    InitPasswords,
    NbAwakeModesReply,
    NbAwakeQuery,
    NbAwakeSetModes,
    NbAwakeSetReply,
    NbAwakeSetTimes,
    NbAwakeTimesReply,
    NbServerAddress,
    PasscodeRecover,
)
from .wifi import (
    SwitchQuery,
    SwitchReply,
    SwitchSet,
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
    WifiSleepListReply,
    WifiSleepQuery,
)

__all__ = [
    "LOCK_MESSAGES",
    "CommandMessages",
    "decode_reply",
    "decode_reply_data",
    "decode_request",
]


@dataclass(frozen=True, slots=True)
class CommandMessages:
    """The message classes of one opcode: request variants and reply-data variants.

    Variants are tried in order; the first one whose layout fits wins.
    """

    command: LockCommand
    requests: tuple[type[Request], ...]
    replies: tuple[type[ReplyData], ...]


def _entry(
    requests: tuple[type[Request], ...], replies: tuple[type[ReplyData], ...]
) -> tuple[LockCommand, CommandMessages]:
    command = requests[0].COMMAND
    return command, CommandMessages(command, requests, replies)


LOCK_MESSAGES: Final[Mapping[LockCommand, CommandMessages]] = MappingProxyType(
    dict(
        [
            _entry((SearchDeviceFeature,), (FeaturesReply,)),
            _entry(
                (PasscodeClear, PasscodeAdd, PasscodeDelete, PasscodeModify, PasscodeRecover),
                (PasscodeReply,),
            ),
            _entry(
                (IcQuery, IcEnterAddMode, IcAdd, IcDelete, IcClear, IcModify),
                (IcListReply, IcAddProgressReply, IcAddedReply, IcAckReply),
            ),
            _entry(
                (
                    FrQuery,
                    FrEnterAddMode,
                    FrTemplateHeader,
                    FrAdd,
                    FrDelete,
                    FrClear,
                    FrModify,
                    FrTemplateChunk,
                ),
                (
                    FrListReply,
                    FrAddProgressReply,
                    FrTemplateReadyReply,
                    FrAddedReply,
                    FrAckReply,
                    FrTemplateChunkReply,
                ),
            ),
            _entry((GetPasscodeList,), (PasscodeListReply,)),
            _entry((SearchStatus,), (StatusReply,)),
            _entry((GetAesKey,), (AesKeyReply,)),
            _entry((GetOperateLog,), (OperateLogReply,)),
            _entry((CheckRandom,), (EmptyReply,)),
            _entry((GetLockTime,), (LockTimeReply,)),
            _entry((AutoLockQuery, AutoLockSet), (AutoLockReply,)),
            _entry((RemoteUnlockQuery, RemoteUnlockSet), (RemoteUnlockReply,)),
            _entry((CheckAdmin,), (CheckAdminReply,)),
            _entry((TimeCalibrate,), (EmptyReply,)),
            _entry((Initialization,), (RawReply,)),
            _entry((Unlock,), (UnlockReply,)),
            _entry((ResetLock,), (RawReply,)),
            _entry((SetAdminPasscode,), (RawReply,)),
            _entry((CheckUserTime,), (CheckUserTimeReply,)),
            _entry((AddAdmin,), (AddAdminReply,)),
            _entry((OperateFinished,), (EmptyReply,)),
            _entry((FunctionLock,), (FunctionLockReply,)),
            _entry((ShowPasswordQuery, ShowPasswordSet), (ShowPasswordReply,)),
            _entry((AudioQuery, AudioSet, AudioSetVolume), (AudioReply,)),
            _entry((GetAdminCode,), (AdminCodeReply,)),
            _entry(
                (PassageModeQuery, PassageModeAdd, PassageModeDelete, PassageModeClear),
                (PassageModeListReply, PassageModeAckReply),
            ),
            _entry((ReadDeviceInfo,), (DeviceInfoReply,)),
            # docs/protocol.md §10: the rest of the command set
            _entry((InitPasswords,), (AckReply,)),
            _entry(
                (CyclicAdd, CyclicRemove, CyclicClear),
                (CyclicReply,),
            ),
            _entry((HotelGet, HotelSet), (HotelReply,)),
            _entry((NbServerAddress,), (AckReply,)),
            _entry(
                (NbAwakeQuery, NbAwakeSetModes, NbAwakeSetTimes),
                (NbAwakeModesReply, NbAwakeTimesReply, NbAwakeSetReply),
            ),
            _entry((WifiScan,), (WifiScanEndReply, WifiNetworkReply)),
            _entry((WifiConfigAp,), (AckReply,)),
            _entry((WifiConfigStaticIp,), (AckReply,)),
            _entry((WifiConfigServer,), (AckReply,)),
            _entry((WifiGetInfo,), (WifiInfoReply,)),
            _entry((WifiConfigAccount,), (AckReply,)),
            _entry(
                (WifiSleepQuery, WifiSleepAdd, WifiSleepClear),
                (WifiSleepListReply, WifiSleepAckReply),
            ),
            _entry((SwitchQuery, SwitchSet), (SwitchReply,)),
        ]
    )
)
"""Every lock command with a documented layout → its request and reply-data classes."""


def _messages_for(command: int) -> CommandMessages:
    try:
        return LOCK_MESSAGES[LockCommand(command)]
    except (ValueError, KeyError):
        known = ", ".join(f"0x{c:02x}" for c in sorted(LOCK_MESSAGES))
        raise MessageError(
            f"no message layout is documented for this opcode; known: {known}", command=command
        ) from None


def decode_request(command: int, plaintext: bytes) -> Request:
    """Parse a request plaintext for ``command`` (the lock role's entry point)."""
    result: Request = decode_variants(command, _messages_for(command).requests, plaintext)
    return result


def decode_reply_data(command: int, data: bytes) -> ReplyData:
    """Parse the data of a SUCCESS reply to ``command`` (the app role's entry point)."""
    result: ReplyData = decode_variants(command, _messages_for(command).replies, data)
    return result


def decode_reply(reply: Reply) -> ReplyData:
    """The typed data of a successful reply; MessageError naming the error byte otherwise."""
    if not reply.ok:
        raise MessageError(
            f"reply status {reply.status} (error byte "
            f"{'none' if reply.error_byte is None else f'0x{reply.error_byte:02x}'}) has no data",
            command=reply.command,
        )
    return decode_reply_data(reply.command, reply.data)

"""How the virtual lock answers what it receives: reassemble → check → decrypt → gate → dispatch.

Bytes in, reply frames out (sans-IO). For every complete request frame, in this
order (the choices no capture settles are ours and marked so):

1. **Reassemble** the app's writes (any chunking) into frames
   (:class:`ttlock_hil.protocol.reassembly.FrameReassembler`).
2. **Bad CRC** → error 0x01 LOCK_CRC_CHECK_ERROR, echoing the frame's opcode
   (docs/protocol.md §5.1). Legacy (type < 5) frames get no reply: a V3 lock does not speak them.
3. **Decrypt** with the key in force for the opcode; a frame that does not
   decrypt (bad padding, length not a multiple of 16) gets *no reply at all*
   (our choice, like a real lock: it cannot even trust the opcode; the app then
   reports a response timeout).
4. **Gate**: an unknown opcode (no layout in :mod:`ttlock_hil.protocol.messages`) or a
   feature the model lacks (:data:`FEATURE_OF_COMMAND`) → 0x1B INVALID_COMMAND;
   then the shared state table (:data:`ttlock_hil.protocol.connection.GATE_RULES`):
   e.g. ADD_ADMIN on a paired lock → 0x07, an admin command without 0x41+0x30 →
   0x02, 0x47/0x58 without any login → 0x12 (preset ``operate_refusal`` may say
   0x02), commands in setting mode → 0x05.
5. **Decode** the payload; one that does not decode → 0x20 INVALID_PARAM.
6. **Dispatch** to the feature's handler (:data:`HANDLERS`); a handler refuses
   with its error byte (:class:`~ttlock_hil.harness.sim.lock_rules.Refused`).
7. **Quirks** of the preset (:class:`~ttlock_hil.harness.sim.presets.ReplyOverride`) last.
8. **Encrypt** the reply ``[echo][status][data]`` with the key chosen in step 3
   and frame it: the lock's own header, command 0x54, encrypt 0xAA, then
   ``0D 0A`` (§2.1, §4.1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.errors import CrcMismatch, DecryptError, FrameError, MessageError
from ttlock_hil.protocol.frame import LOCK_TRAILER, LockFrame, encode_lock_command, parse_frame
from ttlock_hil.protocol.messages import LOCK_MESSAGES, Feature, Reply, Request, decode_request
from ttlock_hil.protocol.reassembly import FrameReassembler

from . import (
    lock_admin,
    lock_cards,
    lock_hotel,
    lock_info,
    lock_log,
    lock_passcodes,
    lock_settings,
    lock_wifi,
)
from .lock_model import LockModel
from .lock_rules import Refused
from .presets import ReplyOverride

__all__ = ["FEATURE_OF_COMMAND", "HANDLERS", "LockPipeline"]

logger = logging.getLogger(__name__)

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
        # docs/protocol.md §10: the rest of the command set
        _C.INIT_PASSWORDS: _F.PASSCODE,
        _C.CYCLIC_CMD: _F.CYCLIC_IC_OR_FP,
        _C.CONFIGURE_HOTEL_DATA: _F.HOTEL_LOCK,
        _C.CONFIGURE_NB_ADDRESS: _F.NB_LOCK,
        _C.NB_ACTIVATE_CONFIGURATION: _F.NB_ACTIVATE,
        _C.WIFI_SCAN: _F.WIFI_LOCK,
        _C.WIFI_CONFIG_AP: _F.WIFI_LOCK,
        _C.WIFI_CONFIG_SERVER: _F.WIFI_LOCK,
        _C.WIFI_CONFIG_STATIC_IP: _F.WIFI_LOCK_SUPPORT_STATIC_IP,
        _C.WIFI_GET_INFO: _F.WIFI_LOCK,
        _C.WIFI_CONFIG_ACCOUNT: _F.WIFI_LOCK,
        _C.WIFI_SLEEP_MODE: _F.SUPPORT_WIFI_SLEEP_MODE_TIMES_SETTING,
    }
)
"""Opcode → the feature bit (§4.3 step 5) a lock must report to accept it (§4.3 step 6)."""

Handler = Callable[[LockModel, Any], Any]


def _merged(*tables: Mapping[type[Request], Handler]) -> Mapping[type[Request], Handler]:
    merged: dict[type[Request], Handler] = {}
    for table in tables:
        for request, handler in table.items():
            if request in merged:
                raise TypeError(f"two features handle {request.__name__}")
            merged[request] = handler
    return MappingProxyType(merged)


HANDLERS: Final = _merged(
    lock_admin.HANDLERS,
    lock_info.HANDLERS,
    lock_passcodes.HANDLERS,
    lock_cards.HANDLERS,
    lock_log.HANDLERS,
    lock_settings.HANDLERS,
    lock_wifi.HANDLERS,
    lock_hotel.HANDLERS,
)
"""Request type → the handler of the feature it belongs to (every request of
:data:`ttlock_hil.protocol.messages.LOCK_MESSAGES` has one; a test checks)."""


class LockPipeline:
    """The request path of one lock (see the module docstring); owns the reassembler."""

    def __init__(self, lock: LockModel) -> None:
        self._lock = lock
        self._reassembler = FrameReassembler(DeviceKind.LOCK)

    def reset(self) -> None:
        """Forget a partly received frame (a new link starts clean)."""
        self._reassembler.reset()

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes an app wrote (any chunking) → the reply frames, each ending ``0D 0A``."""
        replies: list[bytes] = []
        for raw in self._reassembler.feed(data):
            replies.extend(self._handle_frame(raw))
        return replies

    def reply_frame(self, reply: Reply, key: bytes) -> bytes:
        """``reply`` encrypted with ``key`` in a frame with the lock's header, and the trailer."""
        frame = encode_lock_command(_C.RESPONSE, reply.encode(), key, header=self._lock.header)
        return frame + LOCK_TRAILER

    # --- the steps ----------------------------------------------------------------------

    def _handle_frame(self, raw: bytes) -> list[bytes]:
        lock = self._lock
        try:
            frame = parse_frame(raw)
        except CrcMismatch as exc:
            bad = exc.frame
            if not isinstance(bad, LockFrame):
                return []
            logger.debug("%s: request 0x%02x has a bad CRC", lock.tag, bad.command)
            reply = Reply.failure(bad.command, LockError.CRC_CHECK_ERROR)
            return [self.reply_frame(reply, lock.key_for(bad.command))]
        except FrameError as exc:  # pragma: no cover - the reassembler only yields whole frames
            logger.debug("%s: unparseable frame %s: %s", lock.tag, raw.hex(), exc)
            return []
        if not isinstance(frame, LockFrame):
            logger.debug("%s: legacy frame ignored (a V3 lock does not speak it)", lock.tag)
            return []
        command = frame.command
        key = lock.key_for(command)
        try:
            plaintext = frame.decrypt(key)
        except DecryptError:
            # No reply, like a real lock: it cannot trust even the opcode (module docstring).
            logger.debug("%s: request 0x%02x does not decrypt; no reply", lock.tag, command)
            return []
        return [self.reply_frame(self._answer(command, plaintext), key)]

    def _answer(self, command: int, plaintext: bytes) -> Reply:
        lock = self._lock
        if command not in LOCK_MESSAGES:
            return self._quirk(command, Reply.failure(command, LockError.INVALID_COMMAND))
        feature = FEATURE_OF_COMMAND.get(command)
        if feature is not None and not lock.preset.has(feature):
            return self._quirk(command, Reply.failure(command, LockError.INVALID_COMMAND))
        verdict = lock.connection.on_command(command)
        if not verdict.allowed:
            assert verdict.error is not None
            logger.debug("%s: refused: %s", lock.tag, verdict.reason)
            return self._quirk(command, Reply.failure(command, verdict.error))
        override = self._override(command, None)
        if override is not None:
            result = Reply.failure(command, override.error)
        else:
            result = self._execute(command, plaintext)
        lock.connection.on_result(command, success=result.ok)
        return self._quirk(command, result)

    def _execute(self, command: int, plaintext: bytes) -> Reply:
        lock = self._lock
        try:
            request = decode_request(command, plaintext)
        except MessageError as exc:
            logger.debug("%s: invalid parameter: %s", lock.tag, exc)
            return Reply.failure(command, LockError.INVALID_PARAM)
        handler = HANDLERS.get(type(request))
        if handler is None:  # pragma: no cover - every LOCK_MESSAGES request has a handler (tested)
            return Reply.failure(command, LockError.INVALID_COMMAND)
        try:
            data = handler(lock, request)
        except Refused as refusal:
            logger.debug("%s: 0x%02x refused: %s", lock.tag, command, refusal)
            return Reply.failure(command, refusal.error)
        return Reply.success(command, data)

    def _override(self, command: int, replaces: int | None) -> ReplyOverride | None:
        for override in self._lock.preset.overrides:
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

"""What the virtual lock tells about itself: bolt and battery, features, clock, device info.

0x14 SEARCH_STATUS, 0x01 SEARCH_DEVICE_FEATURE, 0x34 GET_LOCK_TIME,
0x43 TIME_CALIBRATE and 0x90 READ_DEVICE_INFO (docs/protocol.md §4.2, §4.3 steps 5
and 7). The strings come from the preset; the MAC is the lock's address.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.crypto import parse_mac
from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    DeviceInfoReply,
    DeviceInfoType,
    EmptyReply,
    Feature,
    FeaturesReply,
    GetLockTime,
    LockTimeReply,
    ReadDeviceInfo,
    Request,
    SearchDeviceFeature,
    SearchStatus,
    StatusReply,
    TimeCalibrate,
)

from .lock_rules import Refused

if TYPE_CHECKING:
    from .lock_model import LockModel

__all__ = ["HANDLERS"]

_NB_INFO: Final = frozenset(
    {
        DeviceInfoType.NB_OPERATOR,
        DeviceInfoType.NB_IMEI,
        DeviceInfoType.NB_CARD,
        DeviceInfoType.NB_RSSI,
    }
)
"""READ_DEVICE_INFO items only an NB-IoT lock has."""


def on_status(lock: LockModel, request: SearchStatus) -> StatusReply:
    return StatusReply(lock.battery, lock.bolt_state(), lock.preset.status_tail)


def on_features(lock: LockModel, request: SearchDeviceFeature) -> FeaturesReply:
    return FeaturesReply.of(lock.battery, lock.preset.features)


def on_get_time(lock: LockModel, request: GetLockTime) -> LockTimeReply:
    return LockTimeReply(lock.lock_date())


def on_calibrate(lock: LockModel, request: TimeCalibrate) -> EmptyReply:
    lock.set_time(datetime(*request.date.as_tuple()))
    return EmptyReply()


def on_device_info(lock: LockModel, request: ReadDeviceInfo) -> DeviceInfoReply:
    kind = request.info_type
    preset = lock.preset
    texts = {
        DeviceInfoType.MODEL: preset.model,
        DeviceInfoType.HARDWARE_REVISION: preset.hardware,
        DeviceInfoType.FIRMWARE_REVISION: preset.firmware,
        DeviceInfoType.MANUFACTURE_DATE: preset.manufacture_date,
    }
    if kind in texts:
        return DeviceInfoReply.of_text(texts[DeviceInfoType(kind)])
    if kind == DeviceInfoType.MAC:
        return DeviceInfoReply(parse_mac(lock.address)[::-1])
    if kind == DeviceInfoType.LOCK_CLOCK:
        return DeviceInfoReply(lock.lock_date().to_bytes())
    if kind in _NB_INFO:
        if not preset.has(Feature.NB_LOCK):
            raise Refused(LockError.UNRECOGNISED_STEP, "not an NB-IoT lock")
        if kind == DeviceInfoType.NB_RSSI:  # one signed byte (§10.3.3)
            return DeviceInfoReply(preset.nb_rssi.to_bytes(1, "big", signed=True))
        nb_texts = {
            DeviceInfoType.NB_OPERATOR: preset.nb_operator,
            DeviceInfoType.NB_IMEI: preset.nb_imei,
            DeviceInfoType.NB_CARD: preset.nb_card,
        }
        return DeviceInfoReply.of_text(nb_texts[DeviceInfoType(kind)])
    if kind == DeviceInfoType.PASSCODE_KEY_NUMBER and preset.has(Feature.PASSCODE_KEY_NUMBER):
        # One byte (§10.3.3); our decision: the preset's passcode capacity, capped at 255.
        return DeviceInfoReply(bytes([min(preset.passcode_capacity, 255)]))
    raise Refused(LockError.INVALID_PARAM, f"no device info item {kind}")


HANDLERS: Final[Mapping[type[Request], Callable[[LockModel, Any], object]]] = MappingProxyType(
    {
        SearchStatus: on_status,
        SearchDeviceFeature: on_features,
        GetLockTime: on_get_time,
        TimeCalibrate: on_calibrate,
        ReadDeviceInfo: on_device_info,
    }
)
"""Request type → handler, for the pipeline's dispatch."""

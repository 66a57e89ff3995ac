"""Virtual TTLock devices (the lock and gateway roles of :mod:`protocol`) and their bleak backends.

Everything a test or a third-party client needs to run against a simulated
lock without a radio (docs/simulator.md)::

    from ttlock_hil.harness.sim import Air, VirtualClientBackend, create_device

    lock = create_device("v3-keypad")                 # a factory-fresh V3 keypad lock
    quirky = create_device("v3-keypad_unlock-refusal-2")   # …with a firmware variant
    frames = lock.receive(request_frame)              # sans-IO
    air = Air([lock])                                 # or through bleak:
    client = BleakClient(lock.address, backend=VirtualClientBackend, air=air)
"""

from __future__ import annotations

from .air import Air, DeviceBusy, OnAir, UnknownDevice
from .backend import VirtualClientBackend, VirtualScannerBackend
from .bench import SimBench, VirtualBench
from .bench_settings import BenchSetting, BenchSettingError, bench_settings
from .device import (
    GATEWAY_GATT,
    LOCK_GATT,
    Advertisement,
    Clock,
    DeviceKind,
    GattProfile,
    ManualClock,
    VirtualDevice,
)
from .faults import Fault, FaultPlan, FaultRule, FiredFault
from .gateway import VirtualGateway
from .lock import DeviceError, VirtualLock
from .presets import (
    FIRMWARE_VARIANTS,
    GATEWAY_PRESETS,
    LOCK_PRESETS,
    PRESETS,
    VARIANT_SEPARATOR,
    FirmwareVariant,
    GatewayPreset,
    LockPreset,
    PresetError,
    RandomSource,
    ReplyOverride,
    UnknownPreset,
    UnknownVariant,
    WifiNetwork,
    create_device,
    get_preset,
)

__all__ = [
    "FIRMWARE_VARIANTS",
    "GATEWAY_GATT",
    "GATEWAY_PRESETS",
    "LOCK_GATT",
    "LOCK_PRESETS",
    "PRESETS",
    "VARIANT_SEPARATOR",
    "Advertisement",
    "Air",
    "BenchSetting",
    "BenchSettingError",
    "Clock",
    "DeviceBusy",
    "DeviceError",
    "DeviceKind",
    "Fault",
    "FaultPlan",
    "FaultRule",
    "FiredFault",
    "FirmwareVariant",
    "GatewayPreset",
    "GattProfile",
    "LockPreset",
    "ManualClock",
    "OnAir",
    "PresetError",
    "RandomSource",
    "ReplyOverride",
    "SimBench",
    "UnknownDevice",
    "UnknownPreset",
    "UnknownVariant",
    "VirtualBench",
    "VirtualClientBackend",
    "VirtualDevice",
    "VirtualGateway",
    "VirtualLock",
    "VirtualScannerBackend",
    "WifiNetwork",
    "bench_settings",
    "create_device",
    "get_preset",
]

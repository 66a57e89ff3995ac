"""Device presets: what each simulated TTLock model is, as small data records.

A preset is everything that differs between models of the same protocol: the
protocol header the device answers with (docs/protocol.md §2.1), its scene (§6), the
feature bits it reports (§4.3 step 5), its strings (model, firmware, hardware:
0x90 READ_DEVICE_INFO and the Device Information service), its storage
capacities, its starting battery, its advertised name prefix and MAC::

    from ttlock_hil.harness.sim.presets import PRESETS, create_device

    lock = create_device("v3-keypad")                    # factory-fresh, setting mode
    gw = create_device("g2", address="AA:BB:CC:00:00:01")
    PRESETS["v3-padlock"].features                       # frozenset of Feature bits

The names are the ``model:`` values of ``hil-config.yaml`` (``sim:<preset>``
addresses). Values that no source pins down (firmware strings, capacities,
MACs) are plausible inventions, not captures; they are marked as such below.

Regression tests for firmware differences use :class:`ReplyOverride`: a
preset copy whose lock answers one command with another error byte::

    quirky = PRESETS["v3-keypad"].evolve(
        name="v3-keypad-fw-2", overrides=(ReplyOverride(0x47, 0x02, replaces=0x12),)
    )
    lock = create_device(quirky)      # unlock without login now answers 2, not 18

A *firmware variant* is such a copy with a name, so a lab config can choose it:
``sim:<preset>_<variant>`` (:data:`FIRMWARE_VARIANTS`). Every way to build a
device resolves it — :func:`get_preset`, :func:`create_device`, ``VirtualLock(name)``
— so pytest, the CLI and :class:`~ttlock_hil.harness.lab.Lab` accept the same
addresses::

    lock = create_device("v3-keypad_unlock-refusal-2")
    lock.preset.name                  # 'v3-keypad_unlock-refusal-2', the firmware is v3-keypad's

An unknown preset or variant is an :class:`UnknownPreset` (:class:`UnknownVariant`)
that suggests the nearest valid name.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.advert import GatewayType
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.crypto import parse_mac
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.frame import LockHeader
from ttlock_hil.protocol.messages import Feature, GatewayModel

from .device import Clock

if TYPE_CHECKING:
    from ttlock_hil.protocol.lockdata import LockData

    from .gateway import VirtualGateway
    from .lock import VirtualLock

RandomSource = random.Random | Callable[[int], bytes]
"""Where a device draws its random bytes (AES keys, login challenges, ids).

A seeded :class:`random.Random` (``random.Random(7)``) for reproducible runs, or
any callable ``n -> n bytes`` (e.g. one that returns the key a test expects).
"""


def _did_you_mean(name: str, candidates: Sequence[str]) -> str:
    """``"did you mean 'x'? "`` for the nearest candidate, or nothing when none is near."""
    near = difflib.get_close_matches(name, candidates, n=1)
    return f"did you mean {near[0]!r}? " if near else ""


class UnknownPreset(LookupError):
    """No preset has that name; the message suggests the nearest and lists the valid ones.

    ``name`` is the name asked for, ``valid`` the preset names it could have been.
    """

    def __init__(self, name: str, valid: Sequence[str], *, near: Sequence[str] = ()) -> None:
        self.name = name
        self.valid = list(valid)
        super().__init__(self._message(near))

    def _message(self, near: Sequence[str]) -> str:
        return (
            f"unknown device preset {self.name!r}; "
            f"{_did_you_mean(self.name, [*self.valid, *near])}"
            f"valid presets: {', '.join(self.valid)} "
            "(hil-config.yaml: address: sim:<preset> or sim:<preset>_<variant>)"
        )


class UnknownVariant(UnknownPreset):
    """A ``<preset>_<variant>`` name whose preset exists but whose variant does not (for its kind).

    ``preset`` and ``variant`` are the two halves of ``name``; ``valid`` the
    variants of that preset's kind of device.
    """

    def __init__(self, preset: Preset, variant: str, valid: Sequence[str]) -> None:
        self.preset = preset.name
        self.variant = variant
        self.kind = preset.kind
        super().__init__(f"{preset.name}{VARIANT_SEPARATOR}{variant}", valid)

    def _message(self, near: Sequence[str]) -> str:
        kind = self.kind.value
        return (
            f"unknown firmware variant {self.variant!r} of {kind} preset {self.preset!r}; "
            f"{_did_you_mean(self.variant, self.valid)}"
            f"{kind} variants: {', '.join(self.valid) or 'none'} "
            "(hil-config.yaml: address: sim:<preset>_<variant>)"
        )


class PresetError(ValueError):
    """A preset record (or a device built from it) has a value no device could have."""


@dataclass(frozen=True, slots=True)
class ReplyOverride:
    """A firmware quirk: the lock answers ``command`` with error byte ``error``.

    ``replaces=None``: every request with this opcode is refused with ``error``
    (the lock does not act on it). ``replaces=b``: only where the standard model
    would answer error byte ``b``, it answers ``error`` instead (e.g. 0x02 where
    the model says 0x12 USER_NOT_LOGIN). ``error`` is the device byte (§5.1),
    the same number the WeChat plugin reports in decimal.
    """

    command: int
    error: int
    replaces: int | None = None

    def __post_init__(self) -> None:
        for name in ("command", "error", "replaces"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 0xFF:
                raise PresetError(f"ReplyOverride.{name} must be a byte (0..255), got {value}")


def _check_mac(preset: str, name: str, value: str) -> None:
    try:
        parse_mac(value)
    except ValueError as exc:
        raise PresetError(f"preset {preset!r}: {name} {exc}") from exc


@dataclass(frozen=True, slots=True)
class WifiNetwork:
    """A Wi-Fi network a G2 gateway or a Wi-Fi lock can see (and join with ``password``)."""

    ssid: str
    rssi: int = -55
    password: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class LockPreset:
    """One lock model (see the module docstring for where each value comes from).

    ``header`` is what the lock puts on its replies (real V3 locks: 5.3.2.1.1,
    §2.1); its scene is also the advertised scene (§6). ``features`` are
    :class:`~ttlock_hil.protocol.messages.Feature` bit numbers; a command whose feature is
    missing is answered 0x1B INVALID_COMMAND. ``status_tail`` is what follows
    the bolt state in a 0x14 reply (the only real capture, §4.2, ends ``02``;
    its meaning is unknown). ``auto_lock_range`` bounds 0x36 set (seconds).
    ``low_battery``: at or below this level unlock/lock fail with 0x0A.
    ``operate_refusal``: the byte for 0x47/0x58 without a login (0x12 or 0x02,
    see :class:`ttlock_hil.protocol.connection.LockConnection`). ``overrides``: firmware
    quirks (:class:`ReplyOverride`).
    """

    name: str
    description: str
    header: LockHeader
    features: frozenset[int]
    model: str
    hardware: str
    firmware: str
    manufacture_date: str
    name_prefix: str
    mac: str
    battery: int = 80
    passcode_capacity: int = 150
    card_capacity: int = 0
    fingerprint_capacity: int = 0
    passage_mode_capacity: int = 10
    auto_lock_range: tuple[int, int] = (5, 900)
    low_battery: int = 5
    status_tail: bytes = b"\x02"
    fingerprint_touches: int = 4
    operate_refusal: int = 0x12
    overrides: tuple[ReplyOverride, ...] = ()
    wifi_networks: tuple[WifiNetwork, ...] = ()
    """What a Wi-Fi lock's scan (0xF2) finds and may join (0xF3), §10.1."""
    wifi_join_seconds: float = 0.0
    """Device-clock seconds between 0xF3's "processing" answer and its outcome; §10.5 item 4
    leaves the delay open (the vendor app waits about 7 s, §10.1.3)."""
    wifi_mac: str | None = None
    """The Wi-Fi MAC 0xF6 reports (§10.1.6); invented for the presets."""
    nb_operator: str = ""
    nb_imei: str = ""
    nb_card: str = ""
    nb_rssi: int = 0
    """NB-IoT device info items 7-10 (0x90, §10.3.3); invented for the presets."""
    items_per_page: int = 1
    """Items a list reply carries: hardware sends one (§10.3.7); a larger value rehearses a
    firmware that packs several, which a client must read just the same."""
    manufacturer: str = "Sciener"
    """Device Information 2a29. Our decision: §10.4 found the characteristic on a real lock
    but no source gives its string; "Sciener" only follows TTLOCK-BLE's wording for the
    two locks it read (docs/protocol.md §10.4, *inf.*)."""

    def __post_init__(self) -> None:
        if self.header.is_legacy:
            raise PresetError(f"preset {self.name!r}: the simulator speaks V3 frames (type >= 5)")
        _check_mac(self.name, "mac", self.mac)
        if not 0 <= self.battery <= 100:
            raise PresetError(f"preset {self.name!r}: battery must be 0..100, got {self.battery}")
        low, high = self.auto_lock_range
        if not 0 < low <= high <= 0xFFFF:
            raise PresetError(f"preset {self.name!r}: auto_lock_range must be 0 < min <= max")
        for name in ("passcode_capacity", "card_capacity", "fingerprint_capacity"):
            if getattr(self, name) < 0:
                raise PresetError(f"preset {self.name!r}: {name} must be >= 0")
        if self.fingerprint_touches < 1:
            raise PresetError(f"preset {self.name!r}: fingerprint_touches must be >= 1")
        if self.wifi_join_seconds < 0:
            raise PresetError(f"preset {self.name!r}: wifi_join_seconds must be >= 0")
        if self.items_per_page < 1:
            raise PresetError(f"preset {self.name!r}: items_per_page must be >= 1")
        if self.wifi_mac is not None:
            _check_mac(self.name, "wifi_mac", self.wifi_mac)
        object.__setattr__(self, "features", frozenset(int(bit) for bit in self.features))

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.LOCK

    @property
    def scene(self) -> int:
        return self.header.scene

    def has(self, feature: int) -> bool:
        return int(feature) in self.features

    def evolve(self, **changes: Any) -> LockPreset:
        """A copy with some values changed (a firmware variant, more capacity…)."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class GatewayPreset:
    """One gateway model: G2 (Wi-Fi), G3 (wired), G4 (4G) — docs/protocol.md §7.

    ``model`` is the plugVersion (2/3/4) and decides which commands exist:
    Wi-Fi scan/config on G2 only, APN on G4 only; anything else is answered
    status 6 INVALID_COMMAND. ``networks`` is what a Wi-Fi scan finds.
    ``network_mac`` is the Wi-Fi/Ethernet MAC the Device Information service
    shows in ``2a25`` (§1.2). ``wifi_join_seconds``: how long after the
    ``[2] processing`` reply the ``[0]`` success follows (device clock).
    """

    name: str
    description: str
    model: GatewayModel
    advert_type: GatewayType
    model_number: str
    hardware: str
    firmware: str
    name_prefix: str
    mac: str
    network_mac: str
    networks: tuple[WifiNetwork, ...] = ()
    wifi_join_seconds: float = 0.0
    overrides: tuple[ReplyOverride, ...] = ()

    def __post_init__(self) -> None:
        _check_mac(self.name, "mac", self.mac)
        _check_mac(self.name, "network_mac", self.network_mac)
        if self.wifi_join_seconds < 0:
            raise PresetError(f"preset {self.name!r}: wifi_join_seconds must be >= 0")

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.GATEWAY

    @property
    def has_wifi(self) -> bool:
        return self.model == GatewayModel.G2

    @property
    def has_cellular(self) -> bool:
        return self.model == GatewayModel.G4

    def evolve(self, **changes: Any) -> GatewayPreset:
        """A copy with some values changed."""
        return replace(self, **changes)


Preset = LockPreset | GatewayPreset

_F = Feature
# §4.3 step 5 feature bits. Which models have which is our choice, modelled on the
# hil-config.yaml benches (front-door keypad, back-door fingerprint + IC, padlock, Wi-Fi).
_KEYPAD_FEATURES: Final = frozenset(
    {
        _F.PASSCODE,
        _F.AUTO_LOCK,
        _F.PASSCODE_WITH_DELETE,
        _F.MODIFY_PASSCODE,
        _F.MANUAL_LOCK,
        _F.PASSWORD_DISPLAY_OR_HIDE,
        _F.GATEWAY_UNLOCK,
        _F.FREEZE_LOCK,
        _F.CONFIG_GATEWAY_UNLOCK,
        _F.AUDIO_MANAGEMENT,
        _F.GET_ADMIN_CODE,
        _F.PASSAGE_MODE,
    }
)

V3_LOCK_HEADER: Final = LockHeader(5, 3, 2, 1, 1)
"""The header every captured V3 reply carries (docs/protocol.md §2.1)."""

_HOME_NETWORKS: Final = (
    # The gateway.config_wifi_0x02 vector configures "MyWiFi" / "secret123" (§7).
    WifiNetwork("MyWiFi", rssi=-48, password="secret123"),
    WifiNetwork("Lab-5G", rssi=-63, password="correct horse"),
    WifiNetwork("Guest", rssi=-80, password=""),
)

_LOCKS: Final = (
    LockPreset(
        name="v3-keypad",
        description="V3 door lock with keypad (passcodes, admin code, audio, passage mode)",
        header=V3_LOCK_HEADER,
        features=_KEYPAD_FEATURES,
        # The advertised name and MAC are the real S202F of docs/protocol.md §6 (FUSS).
        model="S202F",
        hardware="1.3",
        firmware="6.0.6.210622",  # invented
        manufacture_date="20210622",  # invented
        name_prefix="S202F",
        mac="EE:C6:A2:04:9A:F6",
        battery=80,
        passcode_capacity=150,
    ),
    LockPreset(
        name="v3-fingerprint-ic",
        description="V3 door lock with keypad, IC card reader and fingerprint sensor",
        header=V3_LOCK_HEADER,
        features=(_KEYPAD_FEATURES - {_F.PASSWORD_DISPLAY_OR_HIDE, _F.CONFIG_GATEWAY_UNLOCK})
        | {
            _F.IC,
            _F.FINGER_PRINT,
            _F.SOUND_VOLUME_AND_LANGUAGE,
            _F.CYCLIC_IC_OR_FP,
            _F.CYCLIC_PASSCODE_RECOVERY,
        },
        model="SN9161",  # invented
        hardware="2.1",
        firmware="6.2.1.230410",
        manufacture_date="20230410",
        name_prefix="SN9161",
        mac="E4:5F:01:2A:3B:4C",
        battery=75,
        passcode_capacity=200,
        card_capacity=200,
        fingerprint_capacity=100,
    ),
    LockPreset(
        name="v3-padlock",
        description="V3 padlock (scene 8): no keypad, no cards; app unlock and auto-lock only",
        header=LockHeader(5, 3, 8, 1, 1),
        features=frozenset({_F.AUTO_LOCK, _F.MANUAL_LOCK, _F.FREEZE_LOCK}),
        model="P6",  # invented
        hardware="1.0",
        firmware="5.1.3.200918",
        manufacture_date="20200918",
        name_prefix="P6",
        mac="D2:8A:11:5C:6E:01",
        battery=60,
        passcode_capacity=0,
    ),
    LockPreset(
        name="v3-wifi",
        description=(
            "V3 Wi-Fi door lock with keypad: scan, join, server, static IP, Wi-Fi info, "
            "account, power-saving windows and the long-connection switch (§10.1)"
        ),
        header=V3_LOCK_HEADER,
        features=frozenset(
            {
                _F.PASSCODE,
                _F.AUTO_LOCK,
                _F.MODIFY_PASSCODE,
                _F.MANUAL_LOCK,
                _F.PASSAGE_MODE,
                _F.WIFI_LOCK,
                _F.WIFI_LOCK_SUPPORT_STATIC_IP,
                _F.SUPPORT_WIFI_SLEEP_MODE_TIMES_SETTING,
                _F.POWER_SAVER_SUPPORT_WIFI,
            }
        ),
        wifi_networks=_HOME_NETWORKS,
        wifi_mac="F0:9E:4A:77:21:C9",  # invented: the BLE MAC + 1
        model="WF16",  # invented
        hardware="3.0",
        firmware="6.5.0.240105",
        manufacture_date="20240105",
        name_prefix="WF16",
        mac="F0:9E:4A:77:21:C8",
        battery=90,
        passcode_capacity=250,
    ),
    LockPreset(
        name="v3-hotel",
        description="V3 hotel lock: IC cards, hotel parameters and lift floors (0x64, §10.3.4)",
        header=V3_LOCK_HEADER,
        features=frozenset(
            {_F.PASSCODE, _F.IC, _F.AUTO_LOCK, _F.MANUAL_LOCK, _F.HOTEL_LOCK, _F.CYCLIC_IC_OR_FP}
        ),
        model="H8",  # invented
        hardware="1.2",
        firmware="6.3.2.220815",
        manufacture_date="20220815",
        name_prefix="H8",
        mac="D4:3A:9B:10:20:30",
        battery=85,
        passcode_capacity=100,
        card_capacity=500,
    ),
    LockPreset(
        name="v3-nb",
        description="V3 NB-IoT lock with keypad: server address and wake-up settings (§10.3.3)",
        header=V3_LOCK_HEADER,
        features=frozenset(
            {
                _F.PASSCODE,
                _F.AUTO_LOCK,
                _F.MANUAL_LOCK,
                _F.NB_LOCK,
                _F.NB_ACTIVATE,
                _F.PASSCODE_KEY_NUMBER,
            }
        ),
        model="N5",  # invented
        hardware="1.1",
        firmware="6.4.0.230301",
        manufacture_date="20230301",
        name_prefix="N5",
        mac="C6:11:22:33:44:55",
        battery=70,
        passcode_capacity=150,
        nb_operator="46000",  # invented
        nb_imei="867451040000001",  # invented
        nb_card="89860000000000000001",  # invented
        nb_rssi=-85,
    ),
)

_GATEWAYS: Final = (
    GatewayPreset(
        name="g2",
        description="G2 Wi-Fi gateway",
        model=GatewayModel.G2,
        advert_type=GatewayType.G2,
        model_number="G2",
        hardware="1.2",
        firmware="1.4.5",  # invented
        name_prefix="G2",
        # The MAC of the gateway vectors (key 5d84146b…, docs/protocol.md §7).
        mac="AA:BB:CC:DD:EE:FF",
        network_mac="AA:BB:CC:DD:EF:00",
        networks=_HOME_NETWORKS,
    ),
    GatewayPreset(
        name="g3",
        description="G3 wired (Ethernet) gateway",
        model=GatewayModel.G3,
        advert_type=GatewayType.G3,
        model_number="G3",
        hardware="1.0",
        firmware="1.2.0",
        name_prefix="G3",
        mac="C8:1F:66:0A:3B:21",
        network_mac="C8:1F:66:0A:3B:22",
    ),
    GatewayPreset(
        name="g4",
        description="G4 4G (cellular) gateway",
        model=GatewayModel.G4,
        advert_type=GatewayType.G4,
        model_number="G4",
        hardware="1.1",
        firmware="2.0.3",
        name_prefix="G4",
        mac="C8:1F:66:0A:3B:42",
        network_mac="C8:1F:66:0A:3B:43",
    ),
)

PRESETS: Final[Mapping[str, Preset]] = MappingProxyType(
    {preset.name: preset for preset in (*_LOCKS, *_GATEWAYS)}
)
"""Every preset by name (read-only)."""

LOCK_PRESETS: Final[tuple[str, ...]] = tuple(p.name for p in _LOCKS)
GATEWAY_PRESETS: Final[tuple[str, ...]] = tuple(p.name for p in _GATEWAYS)
DEFAULT_LOCK_PRESET: Final = "v3-keypad"
DEFAULT_GATEWAY_PRESET: Final = "g2"


# --- firmware variants ------------------------------------------------------------------

VARIANT_SEPARATOR: Final = "_"
"""Between preset and variant in a name (``v3-keypad_unlock-refusal-2``); no preset name has it."""


@dataclass(frozen=True, slots=True)
class FirmwareVariant:
    """A named firmware quirk: ``<preset>_<name>`` is the preset plus :attr:`overrides`.

    A regression suite must notice when a firmware answers one command
    differently; a variant rehearses that on the virtual lab. ``kind`` is the
    kind of device whose presets the variant applies to.
    """

    name: str
    kind: DeviceKind
    description: str
    overrides: tuple[ReplyOverride, ...]

    def __post_init__(self) -> None:
        if not self.name or VARIANT_SEPARATOR in self.name:
            raise PresetError(f"variant name {self.name!r} must be non-empty, without '_'")
        if not self.overrides:
            raise PresetError(f"variant {self.name!r} overrides nothing")

    def apply(self, preset: Preset) -> Preset:
        """``preset`` with this variant's quirks, named ``<preset>_<variant>``."""
        if preset.kind is not self.kind:
            raise PresetError(
                f"variant {self.name!r} is for {self.kind.value} presets, "
                f"{preset.name!r} is a {preset.kind.value}"
            )
        return preset.evolve(
            name=f"{preset.name}{VARIANT_SEPARATOR}{self.name}",
            overrides=(*preset.overrides, *self.overrides),
        )


FIRMWARE_VARIANTS: Final[Mapping[str, FirmwareVariant]] = MappingProxyType(
    {
        variant.name: variant
        for variant in (
            FirmwareVariant(
                "unlock-refusal-2",
                DeviceKind.LOCK,
                # The vendor's LockError has both 0x02 and 0x12 and no capture settles
                # which one a lock answers (protocol.connection.LockConnection).
                "UNLOCK without any login answers 0x02 NO_PERMISSION instead of 0x12 "
                "USER_NOT_LOGIN",
                (ReplyOverride(LockCommand.UNLOCK, 0x02, replaces=0x12),),
            ),
            FirmwareVariant(
                "passcode-delete-19",
                DeviceKind.LOCK,
                "deleting an unknown passcode answers 0x13 OPERATE_FAILED instead of 0x15 "
                "PASSWORD_NOT_EXIST (a firmware that reports every passcode failure alike)",
                (ReplyOverride(LockCommand.MANAGE_KEYBOARD_PASSWORD, 0x13, replaces=0x15),),
            ),
        )
    }
)
"""Every firmware variant by name (read-only)."""


def variants_for(kind: DeviceKind) -> tuple[str, ...]:
    """The names of the variants that apply to presets of ``kind``, sorted."""
    return tuple(sorted(v.name for v in FIRMWARE_VARIANTS.values() if v.kind is kind))


def _composed_names() -> list[str]:
    """Every valid ``<preset>_<variant>`` name (the did-you-mean candidates)."""
    return [
        f"{preset.name}{VARIANT_SEPARATOR}{variant}"
        for preset in PRESETS.values()
        for variant in variants_for(preset.kind)
    ]


def get_preset(name: str) -> Preset:
    """The preset called ``name``: ``<preset>`` or ``<preset>_<variant>``.

    :class:`UnknownPreset` (or :class:`UnknownVariant`) suggests the nearest
    valid name and lists the valid ones.
    """
    base, separator, variant_name = name.partition(VARIANT_SEPARATOR)
    preset = PRESETS.get(base)
    if preset is None:
        raise UnknownPreset(base, sorted(PRESETS), near=_composed_names())
    if not separator:
        return preset
    variant = FIRMWARE_VARIANTS.get(variant_name)
    if variant is None or variant.kind is not preset.kind:
        raise UnknownVariant(preset, variant_name, variants_for(preset.kind))
    return variant.apply(preset)


def lock_preset(name: str) -> LockPreset:
    """The lock preset (or lock variant) called ``name`` (:class:`UnknownPreset` otherwise)."""
    preset = get_preset(name)
    if not isinstance(preset, LockPreset):
        raise UnknownPreset(name, list(LOCK_PRESETS))
    return preset


def gateway_preset(name: str) -> GatewayPreset:
    """The gateway preset (or gateway variant) called ``name`` (else :class:`UnknownPreset`)."""
    preset = get_preset(name)
    if not isinstance(preset, GatewayPreset):
        raise UnknownPreset(name, list(GATEWAY_PRESETS))
    return preset


def create_device(
    preset: str | Preset,
    *,
    name: str | None = None,
    address: str | None = None,
    clock: Clock | None = None,
    rng: RandomSource | None = None,
    credentials: LockData | None = None,
) -> VirtualLock | VirtualGateway:
    """A virtual device of ``preset``: a preset record, or a name from :data:`PRESETS`
    optionally with a firmware variant (``v3-keypad_unlock-refusal-2``, :func:`get_preset`).

    ``name``/``address`` override the advertised name and the MAC (give each
    device on one :class:`~ttlock_hil.harness.sim.air.Air` its own address). ``clock``:
    the device's time source (default: a :class:`~ttlock_hil.harness.sim.device.ManualClock`
    at 2026-01-01 12:00). ``rng``: see :data:`RandomSource`.
    ``credentials`` (locks only): build the lock already paired with them
    (``VirtualLock.paired``); without, a lock starts in setting mode.
    """
    from .gateway import VirtualGateway
    from .lock import VirtualLock

    record = get_preset(preset) if isinstance(preset, str) else preset
    if isinstance(record, LockPreset):
        if credentials is not None:
            return VirtualLock.from_credentials(
                credentials,
                preset=record,
                name=name,
                address=address,
                clock=clock,
                rng=rng,
            )
        return VirtualLock(record, name=name, address=address, clock=clock, rng=rng)
    if credentials is not None:
        raise PresetError(
            f"preset {record.name!r} is a gateway: gateways have no lock credentials "
            "(their key derives from the MAC, docs/protocol.md §7); drop credentials="
        )
    return VirtualGateway(record, name=name, address=address, clock=clock, rng=rng)

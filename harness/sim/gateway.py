"""A virtual TTLock gateway (G2 Wi-Fi, G3 wired, G4 4G): the gateway role of docs/protocol.md §7.

Bytes in, frames out, like :class:`~ttlock_hil.harness.sim.lock.VirtualLock`::

    gw = VirtualGateway("g2")
    frames = gw.receive(request_frame)       # 72 5B frames, no CRLF, any chunking

Every frame is encrypted with the gateway's own key, AES of its reversed MAC
(:func:`ttlock_hil.protocol.crypto.gateway_key`); requests are decoded with
:mod:`ttlock_hil.protocol.messages` (the classes an app uses) and answered
``[status][data]`` in a frame carrying the request's opcode (§2.3, §5.2).

What each command does here:

* 0x45 ECHO → ``[0]``. 0x05 ENTER_DFU → ``[0]``. 0x06 CONFIG_IP → ``[0]``.
* 0x01 GET_NEARBY_SSID (G2) → one frame per network ``[0][len][ssid][rssi]``,
  then ``[5]`` (scan over), from :attr:`VirtualGateway.networks`.
* 0x02 CONFIGURE_WIFI (G2) → unknown SSID ``[3]`` (WX 130), wrong password
  ``[4]`` (131), else ``[2]`` processing (129) and, ``wifi_join_seconds`` of
  device clock later, ``[0]`` as a push (:meth:`~VirtualGateway.take_pushes`).
* 0x03 CONFIGURE_SERVER / 0x04 CONFIGURE_ACCOUNT → ``[0]`` when the gateway
  can reach its network; else G4 without SIM ``[8]`` (135), and ``[9]`` (136)
  for no network: G2 without joined Wi-Fi, G3 with the cable out, any model
  with :attr:`~VirtualGateway.network_available` false (bench).
* 0x07 SET_APN (G4) → ``[0]``.
* A command the model lacks (Wi-Fi on G3/G4, APN on G2/G3) or an opcode with
  no layout → ``[6]`` INVALID_COMMAND (133).

Our choices where no source speaks: a request with a bad CRC is answered
``[1]`` FAILED (the lock answers its CRC error byte; the gateway table has no
CRC status); a payload that does not decode → ``[1]``; a frame that does not
decrypt → no reply. Preset :class:`~ttlock_hil.harness.sim.presets.ReplyOverride` rules
swap status bytes like they swap lock error bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from ttlock_hil.protocol.advert import build_gateway_advert, lock_local_name, split_for_bleak
from ttlock_hil.protocol.commands import GatewayCommand
from ttlock_hil.protocol.crypto import gateway_key, parse_mac
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errors import CrcMismatch, DecryptError, FrameError, MessageError
from ttlock_hil.protocol.frame import GatewayFrame, encode_gateway_command, parse_frame
from ttlock_hil.protocol.messages import (
    GATEWAY_MESSAGES,
    ConfigIp,
    ConfigureAccount,
    ConfigureServer,
    ConfigureWifi,
    Echo,
    EnterDfu,
    GatewayModel,
    GatewayReply,
    GatewayRequest,
    GatewayStatus,
    GetNearbySsid,
    SetApn,
    SsidEntry,
    SsidScanReply,
    decode_gateway_request,
)
from ttlock_hil.protocol.reassembly import FrameReassembler

from .bench_settings import BenchSetting
from .device import GATEWAY_GATT, Advertisement, Clock, GattProfile, ManualClock
from .presets import (
    DEFAULT_GATEWAY_PRESET,
    GatewayPreset,
    PresetError,
    RandomSource,
    ReplyOverride,
    WifiNetwork,
    get_preset,
)

logger = logging.getLogger(__name__)

_G = GatewayCommand
_S = GatewayStatus

WIFI_COMMANDS: Final = frozenset({_G.GET_NEARBY_SSID, _G.CONFIGURE_WIFI})
"""Only a G2 has Wi-Fi (§7: "CONFIGURE_WIFI (G2 only)"; G3/G4 init skips it)."""
CELLULAR_COMMANDS: Final = frozenset({_G.SET_APN})
"""Only a G4 has a modem (§7: "SET_APN (G4)")."""


@dataclass(frozen=True, slots=True)
class GatewayAccount:
    """What CONFIGURE_ACCOUNT bound the gateway to (the password MD5 is not kept)."""

    uid: int
    company_id: int
    branch_id: int
    name: str
    plug_version: int


@dataclass(slots=True)
class GatewayConfig:
    """What the app configured (persists across connections)."""

    wifi_ssid: str | None = None
    server: tuple[str, int] | None = None
    account: GatewayAccount | None = None
    ip: ConfigIp | None = None
    apn: str | None = None
    dfu_requested: bool = False


class _Status(Exception):
    """Internal: a handler answers a non-success status byte."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(reason or f"status {status}")
        self.status = status


class VirtualGateway:
    """A TTLock gateway model (see the module docstring for the rules it follows).

    ``preset`` is a :class:`~ttlock_hil.harness.sim.presets.GatewayPreset` or its name
    (``g2``, ``g3``, ``g4``); ``name``/``address`` override the advertised name
    and MAC (the AES key follows the MAC); ``clock`` times the Wi-Fi join;
    ``networks`` replaces the preset's visible Wi-Fi networks. ``rng`` is
    accepted for symmetry with the lock (a gateway draws no random bytes).
    """

    # Bench settings (docs/architecture.md §5): what a bench may change, restored after a test.
    network_available = BenchSetting[bool](
        bool,
        "The uplink works (G3: cable plugged in; G4: coverage; G2: the AP routes); without it "
        "CONFIGURE_SERVER/ACCOUNT answer [9] (136).",
        default=True,
    )
    sim_card = BenchSetting[bool](
        bool, "A SIM card is inserted (G4); without it the G4 answers [8] (135).", default=True
    )

    def __init__(
        self,
        preset: GatewayPreset | str = DEFAULT_GATEWAY_PRESET,
        *,
        name: str | None = None,
        address: str | None = None,
        clock: Clock | None = None,
        rng: RandomSource | None = None,
        networks: tuple[WifiNetwork, ...] | list[WifiNetwork] | None = None,
    ) -> None:
        record = get_preset(preset) if isinstance(preset, str) else preset
        if not isinstance(record, GatewayPreset):
            raise PresetError(
                f"preset {record.name!r} is not a gateway preset; use VirtualLock for locks"
            )
        self._preset = record
        self._address = ":".join(f"{b:02X}" for b in parse_mac(address or record.mac))
        self._name = name or lock_local_name(record.name_prefix, self._address)
        self._tag = f"{self._name} ({self._address})"  # log prefix
        self._key = gateway_key(self._address)
        self._clock: Clock = clock if clock is not None else ManualClock()
        self.networks: list[WifiNetwork] = list(record.networks if networks is None else networks)
        """Wi-Fi networks in range (bench: edit to change what a scan finds)."""
        self.config = GatewayConfig()
        self._reassembler = FrameReassembler(DeviceKind.GATEWAY)
        self._pending: list[tuple[datetime, bytes]] = []
        self._connected = False

    def __repr__(self) -> str:
        return f"<VirtualGateway {self._name} {self._address} preset={self._preset.name}>"

    # --- VirtualDevice -----------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def address(self) -> str:
        return self._address

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.GATEWAY

    @property
    def gatt(self) -> GattProfile:
        return GATEWAY_GATT

    @property
    def preset(self) -> GatewayPreset:
        return self._preset

    @property
    def model(self) -> GatewayModel:
        return self._preset.model

    @property
    def initialised(self) -> bool:
        """True once an account is configured (the last step of §7's init sequence)."""
        return self.config.account is not None

    def advertisement(self) -> Advertisement:
        """``11 <type>`` + reversed MAC (§6), service 0x1911."""
        data = build_gateway_advert(self._preset.advert_type, self._address)
        company_id, rest = split_for_bleak(data)
        return Advertisement(self._name, {company_id: rest}, [GATEWAY_GATT.service], rssi=-70)

    def device_information(self) -> dict[str, bytes]:
        """Device Information service values read on connect (§1.2): model, network MAC, FW, HW."""
        return {
            "2a24": self._preset.model_number.encode(),
            "2a25": self._preset.network_mac.upper().encode(),
            "2a26": self._preset.firmware.encode(),
            "2a27": self._preset.hardware.encode(),
        }

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes an app wrote (any chunking) → reply frames (no CRLF), in order."""
        if not self._connected:
            self.on_connect()
        frames: list[bytes] = []
        for raw in self._reassembler.feed(data):
            frames.extend(self._handle_frame(raw))
        return frames

    def take_pushes(self) -> list[bytes]:
        """Frames that became due (the ``[0]`` after a Wi-Fi ``[2]`` processing reply)."""
        now = self._clock.now()
        due = [frame for when, frame in self._pending if when <= now]
        self._pending = [(when, frame) for when, frame in self._pending if when > now]
        return due

    def error_reply(self, command: int, error: int) -> bytes:
        """A reply to ``command`` with status byte ``error`` (§5.2)."""
        return self._frame(command, GatewayReply(error).encode())

    def push_frame(self) -> bytes:
        """An unsolicited well-formed frame: an ECHO ``[0]`` (gateways have no heartbeat)."""
        return self._frame(_G.ECHO, GatewayReply(_S.SUCCESS).encode())

    def on_connect(self) -> None:
        self._connected = True
        self._reassembler.reset()
        self._pending.clear()

    def on_disconnect(self) -> None:
        self._connected = False
        self._reassembler.reset()
        self._pending.clear()

    # --- handling ------------------------------------------------------------------

    def _frame(self, command: int, plaintext: bytes) -> bytes:
        return encode_gateway_command(command, plaintext, self._key)

    def _handle_frame(self, raw: bytes) -> list[bytes]:
        try:
            frame = parse_frame(raw)
        except CrcMismatch as exc:
            bad = exc.frame
            if not isinstance(bad, GatewayFrame):  # pragma: no cover - channel yields 72 5B only
                return []
            logger.debug("%s: request 0x%02x has a bad CRC", self._tag, bad.command)
            return [self._frame(bad.command, GatewayReply(_S.FAILED).encode())]
        except FrameError:  # pragma: no cover - the reassembler only yields whole frames
            return []
        if not isinstance(frame, GatewayFrame):  # pragma: no cover - gateway channel
            return []
        try:
            plaintext = frame.decrypt(self._key)
        except DecryptError:
            logger.debug("%s: request 0x%02x does not decrypt; no reply", self._tag, frame.command)
            return []
        return [self._frame(frame.command, body) for body in self._answer(frame.command, plaintext)]

    def _supports(self, command: int) -> bool:
        if command not in GATEWAY_MESSAGES:
            return False
        if command in WIFI_COMMANDS:
            return self._preset.has_wifi
        if command in CELLULAR_COMMANDS:
            return self._preset.has_cellular
        return True

    def _override(self, command: int, replaces: int | None) -> ReplyOverride | None:
        for override in self._preset.overrides:
            if override.command == command and override.replaces == replaces:
                return override
        return None

    def _answer(self, command: int, plaintext: bytes) -> list[bytes]:
        if not self._supports(command):
            return [self._quirk(command, _S.INVALID_COMMAND)]
        always = self._override(command, None)
        if always is not None:
            return [GatewayReply(always.error).encode()]
        try:
            request = decode_gateway_request(command, plaintext)
        except MessageError as exc:
            logger.debug("%s: bad payload: %s", self._tag, exc)
            return [self._quirk(command, _S.FAILED)]
        handler = self._HANDLERS[type(request)]
        try:
            return handler(self, request)
        except _Status as refusal:
            logger.debug("%s: 0x%02x answered %s", self._tag, command, refusal)
            return [self._quirk(command, refusal.status)]

    def _quirk(self, command: int, status: int) -> bytes:
        """Preset overrides: always answer one status, or swap one status for another."""
        override = self._override(command, None) or self._override(command, status)
        return GatewayReply(status if override is None else override.error).encode()

    def _check_uplink(self) -> None:
        """Server and account need the network (§5.2 statuses 8 and 9)."""
        if self._preset.model == GatewayModel.G4 and not self.sim_card:
            raise _Status(_S.NO_SIM_CARD, "no SIM card")
        if self._preset.has_wifi and self.config.wifi_ssid is None:
            raise _Status(_S.NO_CABLE, "no Wi-Fi joined yet")
        if not self.network_available:
            raise _Status(_S.NO_CABLE, "the network is unreachable")

    @staticmethod
    def _ok() -> list[bytes]:
        return [GatewayReply(_S.SUCCESS).encode()]

    def _on_echo(self, request: Echo) -> list[bytes]:
        return self._ok()

    def _on_scan(self, request: GetNearbySsid) -> list[bytes]:
        entries = [SsidScanReply((SsidEntry(n.ssid, n.rssi),)).encode() for n in self.networks]
        return [*entries, SsidScanReply(finished=True).encode()]

    def _on_configure_wifi(self, request: ConfigureWifi) -> list[bytes]:
        network = next((n for n in self.networks if n.ssid == request.ssid), None)
        if network is None:
            raise _Status(_S.BAD_WIFI_NAME, f"no network {request.ssid!r} in range")
        if network.password != request.password:
            raise _Status(_S.BAD_WIFI_PASSWORD, f"wrong password for {request.ssid!r}")
        self.config.wifi_ssid = request.ssid
        due = self._clock.now() + timedelta(seconds=self._preset.wifi_join_seconds)
        self._pending.append(
            (due, self._frame(_G.CONFIGURE_WIFI, GatewayReply(_S.SUCCESS).encode()))
        )
        return [GatewayReply(_S.PROCESSING).encode()]

    def _on_configure_server(self, request: ConfigureServer) -> list[bytes]:
        self._check_uplink()
        self.config.server = (request.host, request.port)
        return self._ok()

    def _on_configure_account(self, request: ConfigureAccount) -> list[bytes]:
        self._check_uplink()
        self.config.account = GatewayAccount(
            request.uid, request.company_id, request.branch_id, request.name, request.plug_version
        )
        return self._ok()

    def _on_enter_dfu(self, request: EnterDfu) -> list[bytes]:
        self.config.dfu_requested = True
        return self._ok()

    def _on_config_ip(self, request: ConfigIp) -> list[bytes]:
        self.config.ip = request
        return self._ok()

    def _on_set_apn(self, request: SetApn) -> list[bytes]:
        self.config.apn = request.apn
        return self._ok()

    _HANDLERS: Final[dict[type[GatewayRequest], Callable[[VirtualGateway, Any], list[bytes]]]] = {
        Echo: _on_echo,
        GetNearbySsid: _on_scan,
        ConfigureWifi: _on_configure_wifi,
        ConfigureServer: _on_configure_server,
        ConfigureAccount: _on_configure_account,
        EnterDfu: _on_enter_dfu,
        ConfigIp: _on_config_ip,
        SetApn: _on_set_apn,
    }

"""Bumble's virtual controller and link, made to behave like real ones where the tier relies on it.

Bumble ships a controller written in Python (``bumble.controller.Controller``) and a
``LocalLink`` that carries link-layer PDUs between the controllers of one process. They
are what lets a whole host stack run on both sides of a BLE link with no radio. Read
against a real controller (Bluetooth Core Vol 4 Part E, Vol 6 Part B), three of their
shortcuts would hide bugs or hang the tier, so :class:`SimController` corrects them:

* **A cancelled connect completes.** ``LE Create Connection Cancel`` is acknowledged, but
  upstream the pending connection stays and no ``LE Connection Complete`` follows: a
  connect to an absent device hangs past its timeout and every later connect is refused
  with Command Disallowed (0x0C). A real controller ends the attempt with an
  ``LE Connection Complete`` whose status is Unknown Connection Identifier (0x02), after
  the command's Command Complete (Vol 4 Part E §7.8.13), and answers a cancel with
  nothing pending with Command Disallowed.
* **Legacy advertising data is at most 31 bytes** (Vol 6 Part B §2.3.1). Upstream accepts
  more, so an advert that a USB dongle refuses would pass in-process.
* **A scan response is the advertiser's scan response.** Upstream the scanner reports the
  advertising data a second time as the "scan response" (the name a lock puts there never
  arrives), even on a passive scan, and every report has RSSI -50. Here an active scan
  gets the advertiser's real scan response data, a passive scan none, and the RSSI is the
  one the advertiser's host asked for (:attr:`SimController.advert_rssi`).

:class:`SimLink` adds what a shared radio has and a bus does not: whether a listener hears
an advertiser at all. Each controller counts its *listening sessions* (a scan being
enabled, a connection being initiated); an advertiser with an :attr:`~SimController.advert_gate`
is asked, per listener and session, whether it is heard. The peripheral uses it to carry
out ``Fault.NOT_ADVERTISING`` once per scan session, as the other tiers do.

It also skips the debug text upstream formats for every HCI packet whatever the log level
(a fifth of the tier's CPU), unless ``bumble.controller`` logs debug.

Everything else is Bumble's own code (bumble 0.0.236, pinned by the ``bumble`` extra).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Final

from bumble import hci, ll
from bumble.controller import Controller
from bumble.link import LocalLink

__all__ = ["LEGACY_ADVERT_LIMIT", "SimController", "SimLink"]

logger = logging.getLogger(__name__)
_UPSTREAM_LOG: Final = logging.getLogger("bumble.controller")

LEGACY_ADVERT_LIMIT: Final = 31
"""Bytes of advertising data (and of scan response data) in a legacy PDU."""

_SUCCESS: Final = hci.HCI_ErrorCode.SUCCESS
_DISALLOWED: Final = hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR
_INVALID_PARAMETERS: Final = hci.HCI_ErrorCode.INVALID_COMMAND_PARAMETERS_ERROR
_UNKNOWN_CONNECTION: Final = hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR
_SET_PROPERTIES: Final = (
    hci.HCI_LE_Set_Extended_Advertising_Parameters_Command.AdvertisingProperties
)
_LEGACY_PDUS: Final = _SET_PROPERTIES.USE_LEGACY_ADVERTISING_PDUS
_SCANNABLE: Final = _SET_PROPERTIES.SCANNABLE_ADVERTISING
_REPORTS: Final = (
    hci.HCI_LE_Advertising_Report_Event,
    hci.HCI_LE_Extended_Advertising_Report_Event,
)
_EXT_SCAN_RESPONSE: Final = hci.HCI_LE_Extended_Advertising_Report_Event.EventType.SCAN_RESPONSE
_SCAN_RSP: Final = hci.HCI_LE_Advertising_Report_Event.EventType.SCAN_RSP
_ACTIVE: Final = hci.HCI_LE_Set_Scan_Parameters_Command.ACTIVE_SCANNING


@dataclasses.dataclass
class _HeardLegacy(ll.AdvInd):
    """An ADV_IND as it travels: with the advertiser's scan response and RSSI."""

    scan_response: bytes = b""
    rssi: int | None = None


@dataclasses.dataclass
class _HeardExtended(ll.AdvExtInd):
    """An extended-advertising PDU as it travels: with scan response and RSSI."""

    scan_response: bytes = b""
    rssi: int | None = None


def _status(code: hci.HCI_ErrorCode) -> hci.HCI_StatusReturnParameters:
    return hci.HCI_StatusReturnParameters(code)


class SimController(Controller):
    """Bumble's virtual controller with the corrections of the module docstring.

    ``advert_gate(listener)`` (set by the advertiser's host) says whether ``listener`` hears
    this controller's adverts in its current listening session; ``advert_rssi`` is the RSSI
    scanners report for them. Build it inside the event loop that will run it (Bumble's
    controller captures the running loop).
    """

    def __init__(
        self,
        name: str,
        *,
        link: SimLink,
        host_source: Any = None,
        host_sink: Any = None,
        public_address: str | None = None,
    ) -> None:
        super().__init__(
            name,
            host_source=host_source,
            host_sink=host_sink,
            link=link,
            public_address=public_address,
        )
        self.listen_session = 0
        """Incremented when this controller starts listening (scan enabled, connect issued)."""
        self.advert_gate: Callable[[SimController], bool] | None = None
        self.advert_rssi: int | None = None
        self._active_scan = True
        self._hearing: _HeardLegacy | _HeardExtended | None = None

    def __repr__(self) -> str:
        return f"SimController({self.name!r}, random={self.random_address.to_string(False)})"

    # --- connection: a cancel completes the attempt (Vol 4 Part E §7.8.13) ----------------

    def on_hci_le_create_connection_command(
        self, command: hci.HCI_LE_Create_Connection_Command
    ) -> None:
        self._listening()
        super().on_hci_le_create_connection_command(command)

    def on_hci_le_extended_create_connection_command(
        self, command: hci.HCI_LE_Extended_Create_Connection_Command
    ) -> None:
        self._listening()
        super().on_hci_le_extended_create_connection_command(command)

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            return _status(_DISALLOWED)
        self.pending_le_connection = None
        failed = hci.HCI_LE_Connection_Complete_Event(
            status=_UNKNOWN_CONNECTION,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address_type,
            peer_address=pending.peer_address,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        # One turn later: the Command Complete of the cancel goes to the host first.
        asyncio.get_running_loop().call_soon(self.send_hci_packet, failed)
        return _status(_SUCCESS)

    # --- scanning: listening sessions, active or passive --------------------------------

    def _listening(self) -> None:
        self.listen_session += 1

    def on_hci_le_set_scan_parameters_command(
        self, command: hci.HCI_LE_Set_Scan_Parameters_Command
    ) -> hci.HCI_StatusReturnParameters:
        result = super().on_hci_le_set_scan_parameters_command(command)
        if result.status == _SUCCESS:
            self._active_scan = command.le_scan_type == _ACTIVE
        return result

    def on_hci_le_set_extended_scan_parameters_command(
        self, command: hci.HCI_LE_Set_Extended_Scan_Parameters_Command
    ) -> hci.HCI_StatusReturnParameters:
        result = super().on_hci_le_set_extended_scan_parameters_command(command)
        if result.status == _SUCCESS and command.scan_types:
            self._active_scan = command.scan_types[0] == _ACTIVE
        return result

    def on_hci_le_set_scan_enable_command(
        self, command: hci.HCI_LE_Set_Scan_Enable_Command
    ) -> hci.HCI_StatusReturnParameters:
        if command.le_scan_enable and not self.le_scan_enable:
            self._listening()
        return super().on_hci_le_set_scan_enable_command(command)

    def on_hci_le_set_extended_scan_enable_command(
        self, command: hci.HCI_LE_Set_Extended_Scan_Enable_Command
    ) -> hci.HCI_StatusReturnParameters:
        if command.enable and not self.le_scan_enable:
            self._listening()
        return super().on_hci_le_set_extended_scan_enable_command(command)

    # --- advertising data: 31 bytes in legacy PDUs (Vol 6 Part B §2.3.1) -------------------

    def on_hci_le_set_advertising_data_command(
        self, command: hci.HCI_LE_Set_Advertising_Data_Command
    ) -> hci.HCI_StatusReturnParameters:
        if len(command.advertising_data) > LEGACY_ADVERT_LIMIT:
            return _status(_INVALID_PARAMETERS)
        return super().on_hci_le_set_advertising_data_command(command)

    def on_hci_le_set_scan_response_data_command(
        self, command: hci.HCI_LE_Set_Scan_Response_Data_Command
    ) -> hci.HCI_StatusReturnParameters:
        if len(command.scan_response_data) > LEGACY_ADVERT_LIMIT:
            return _status(_INVALID_PARAMETERS)
        return super().on_hci_le_set_scan_response_data_command(command)

    def _legacy_set_overflows(self, handle: int, data: bytes) -> bool:
        advertising_set = self.advertising_sets.get(handle)
        parameters = advertising_set.parameters if advertising_set is not None else None
        legacy = parameters is not None and (parameters.advertising_event_properties & _LEGACY_PDUS)
        return bool(legacy) and len(data) > LEGACY_ADVERT_LIMIT

    def on_hci_le_set_extended_advertising_data_command(
        self, command: hci.HCI_LE_Set_Extended_Advertising_Data_Command
    ) -> hci.HCI_StatusReturnParameters:
        if self._legacy_set_overflows(command.advertising_handle, command.advertising_data):
            return _status(_INVALID_PARAMETERS)
        return super().on_hci_le_set_extended_advertising_data_command(command)

    def on_hci_le_set_extended_scan_response_data_command(
        self, command: hci.HCI_LE_Set_Extended_Scan_Response_Data_Command
    ) -> hci.HCI_StatusReturnParameters:
        if self._legacy_set_overflows(command.advertising_handle, command.scan_response_data):
            return _status(_INVALID_PARAMETERS)
        return super().on_hci_le_set_extended_scan_response_data_command(command)

    # --- adverts on the air: scan response and RSSI travel with them -----------------------

    def _scan_response_of(self, address: hci.Address) -> bytes:
        legacy = self.le_legacy_advertiser
        if legacy.enabled and legacy.address == address:
            scannable = (
                legacy.advertising_type
                == hci.HCI_LE_Set_Advertising_Parameters_Command.AdvertisingType.ADV_IND
            )
            return bytes(legacy.scan_response_data) if scannable else b""
        for advertising_set in self.advertising_sets.values():
            parameters = advertising_set.parameters
            if advertising_set.enabled and advertising_set.address == address:
                answers = parameters is not None and bool(
                    parameters.advertising_event_properties & _SCANNABLE
                )
                return bytes(advertising_set.scan_response_data) if answers else b""
        return b""

    def send_advertising_pdu(self, packet: ll.AdvertisingPdu) -> None:
        if isinstance(packet, ll.AdvExtInd) and not isinstance(packet, _HeardExtended):
            packet = _HeardExtended(
                advertiser_address=packet.advertiser_address,
                data=packet.data,
                target_address=packet.target_address,
                adi=packet.adi,
                sid=packet.sid,
                tx_power=packet.tx_power,
                periodic_advertising_data=packet.periodic_advertising_data,
                scan_response=self._scan_response_of(packet.advertiser_address),
                rssi=self.advert_rssi,
            )
        elif isinstance(packet, ll.AdvInd) and not isinstance(packet, _HeardLegacy):
            packet = _HeardLegacy(
                advertiser_address=packet.advertiser_address,
                data=packet.data,
                scan_response=self._scan_response_of(packet.advertiser_address),
                rssi=self.advert_rssi,
            )
        super().send_advertising_pdu(packet)

    def on_advertising_pdu(self, pdu: ll.AdvInd | ll.AdvExtInd) -> None:
        heard = pdu if isinstance(pdu, _HeardLegacy | _HeardExtended) else None
        self._hearing = heard
        try:
            super().on_advertising_pdu(pdu)
        finally:
            self._hearing = None

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        heard = self._hearing
        if heard is not None and isinstance(packet, _REPORTS):
            reports = [
                fixed for fixed in (self._fix(report, heard) for report in packet.reports) if fixed
            ]
            if not reports:
                return
            packet = type(packet)(reports)
        if self.host and not _UPSTREAM_LOG.isEnabledFor(logging.DEBUG):
            # Upstream (0.0.236) without the debug text it formats whatever the level.
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))
        else:
            super().send_hci_packet(packet)

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Upstream's dispatch (0.0.236) without formatting the packet for a debug line that is
        not logged (tests/unit/sim/test_bumble_quiet.py pins upstream's source)."""
        if _UPSTREAM_LOG.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
            return
        match packet:
            case hci.HCI_Command():
                self.on_hci_command_packet(packet)
            case hci.HCI_AclDataPacket():
                self.on_hci_acl_data_packet(packet)
            case hci.HCI_Event():
                self.on_hci_event_packet(packet)
            case _:  # upstream warns about it
                super().on_hci_packet(packet)

    def _fix(self, report: Any, heard: _HeardLegacy | _HeardExtended) -> Any:
        """The report as a real scanner makes it; ``None`` when it sends none."""
        if isinstance(report, hci.HCI_LE_Extended_Advertising_Report_Event.Report):
            response = bool(report.event_type & _EXT_SCAN_RESPONSE)
        else:
            response = report.event_type == _SCAN_RSP
        changes: dict[str, Any] = {}
        if heard.rssi is not None:
            changes["rssi"] = heard.rssi
        if response:
            if not self._active_scan or not heard.scan_response:
                return None  # passive scans send no SCAN_REQ; nothing to answer with
            changes["data"] = heard.scan_response
        return dataclasses.replace(report, **changes)


class SimLink(LocalLink):
    """Bumble's local link, where an advertiser may go unheard by a listener.

    An advertising PDU from a :class:`SimController` with an ``advert_gate`` reaches each
    other controller only if the gate lets it through; everything else (connection
    requests, data, control PDUs) travels as on Bumble's ``LocalLink``.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # LocalLink is not annotated

    def __repr__(self) -> str:
        return f"SimLink({sorted(c.name for c in self.controllers)})"

    def send_advertising_pdu(
        self, sender_controller: Controller, packet: ll.AdvertisingPdu
    ) -> None:
        gate = getattr(sender_controller, "advert_gate", None)
        if gate is None or not isinstance(packet, ll.AdvInd | ll.AdvExtInd):
            super().send_advertising_pdu(sender_controller, packet)
            return
        loop = asyncio.get_running_loop()
        for listener in list(self.controllers):
            if listener is sender_controller:
                continue
            if isinstance(listener, SimController) and not gate(listener):
                continue
            loop.call_soon(listener.on_ll_advertising_pdu, packet)

"""A Wi-Fi lock's network side on the virtual lock (docs/protocol.md §10.1).

0xF2 scans (one reply per network the preset's ``wifi_networks`` holds, then the end
reply), 0xF3 joins (first "processing" 0x24, then — ``wifi_join_seconds`` of device
clock later — success, 0x25 BAD_WIFI_NAME or 0x26 BAD_WIFI_PASSWORD), 0xF4/0xF5 set
the IP and the server, 0xF6 reports the Wi-Fi MAC and signal, 0xFA binds an account,
0x8F keeps power-saving windows and 0x68 item 0x80 switches the long connection.

Our decisions where §10.5 leaves the lock open: the outcome of 0xF3 follows its
"processing" answer as a second reply (item 4); only 0xF3 answers "processing"
first; an account (0xFA) is kept, not used (item 5); a lock that joined no network
reports RSSI -128 in 0xF6.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    WIFI_SLEEP_PAGING,
    AckReply,
    PassageModeEntry,
    Reply,
    Request,
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
    WifiSleepQuery,
)

from .lock_rules import Refused

if TYPE_CHECKING:
    from ttlock_hil.protocol.messages import ReplyData

    from .lock_model import LockModel

__all__ = ["HANDLERS", "WIFI_SLEEP_CAPACITY", "WifiState"]

WIFI_SLEEP_CAPACITY: Final = 7
"""Power-saving windows kept (one per weekday, as the SDK adds them): our decision."""

NO_SIGNAL: Final = -128
"""RSSI 0xF6 reports before the lock joined a network (our decision)."""


@dataclass(slots=True, repr=False)
class WifiState:
    """What the Wi-Fi side was told (the password is a secret: no repr)."""

    ssid: str | None = None
    """The network joined (0xF3 succeeded)."""
    server: tuple[str, int] | None = None
    ip: WifiConfigStaticIp | None = None
    account: tuple[int, str] | None = None
    """``(uid, name)`` of 0xFA."""
    sleep_windows: list[PassageModeEntry] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"WifiState(ssid={self.ssid!r}, server={self.server!r})"


def on_scan(lock: LockModel, request: WifiScan) -> ReplyData:
    """The first network answers the request; the others and the end follow as replies."""
    found: list[ReplyData] = [
        WifiNetworkReply(lock.battery, network.ssid, network.rssi)
        for network in lock.preset.wifi_networks
    ]
    found.append(WifiScanEndReply(lock.battery))
    for later in found[1:]:
        lock.push(Reply.success(LockCommand.WIFI_SCAN, later))
    return found[0]


def on_config_ap(lock: LockModel, request: WifiConfigAp) -> AckReply:
    """Answer "processing" (0x24) now; the outcome follows after the preset's join delay."""
    network = next((n for n in lock.preset.wifi_networks if n.ssid == request.ssid), None)
    if network is None:
        outcome = Reply.failure(LockCommand.WIFI_CONFIG_AP, LockError.BAD_WIFI_NAME)
    elif network.password != request.password:
        outcome = Reply.failure(LockCommand.WIFI_CONFIG_AP, LockError.BAD_WIFI_PASSWORD)
    else:
        lock.memory.wifi.ssid = network.ssid
        outcome = Reply.success(LockCommand.WIFI_CONFIG_AP, AckReply(lock.battery))
    lock.push(outcome, after=lock.preset.wifi_join_seconds)
    raise Refused(LockError.COMMAND_RECEIVED, "joining the network: the outcome follows")


def on_config_server(lock: LockModel, request: WifiConfigServer) -> AckReply:
    lock.memory.wifi.server = (request.host, request.port)
    return AckReply(lock.battery)


def on_config_ip(lock: LockModel, request: WifiConfigStaticIp) -> AckReply:
    lock.memory.wifi.ip = request
    return AckReply(lock.battery)


def on_get_info(lock: LockModel, request: WifiGetInfo) -> WifiInfoReply:
    joined = lock.memory.wifi.ssid
    network = next((n for n in lock.preset.wifi_networks if n.ssid == joined), None)
    rssi = network.rssi if network is not None else NO_SIGNAL
    return WifiInfoReply(lock.battery, lock.preset.wifi_mac or lock.address, rssi)


def on_config_account(lock: LockModel, request: WifiConfigAccount) -> AckReply:
    lock.memory.wifi.account = (request.uid, request.name)
    return AckReply(lock.battery)


def on_sleep_query(lock: LockModel, request: WifiSleepQuery) -> ReplyData:
    positioned = list(enumerate(lock.memory.wifi.sleep_windows))
    return WIFI_SLEEP_PAGING.answer(
        request.seq, positioned, lock.battery, per_page=lock.preset.items_per_page
    )


def on_sleep_add(lock: LockModel, request: WifiSleepAdd) -> WifiSleepAckReply:
    windows = lock.memory.wifi.sleep_windows
    entry = request.entry
    if entry not in windows:
        if len(windows) >= WIFI_SLEEP_CAPACITY:
            raise Refused(LockError.NO_FREE_MEMORY, "power-saving windows full")
        windows.append(entry)
    return WifiSleepAckReply(lock.battery, 2)


def on_sleep_clear(lock: LockModel, request: WifiSleepClear) -> WifiSleepAckReply:
    lock.memory.wifi.sleep_windows.clear()
    return WifiSleepAckReply(lock.battery, 4)


HANDLERS: Final[Mapping[type[Request], Callable[[LockModel, Any], object]]] = MappingProxyType(
    {
        WifiScan: on_scan,
        WifiConfigAp: on_config_ap,
        WifiConfigServer: on_config_server,
        WifiConfigStaticIp: on_config_ip,
        WifiGetInfo: on_get_info,
        WifiConfigAccount: on_config_account,
        WifiSleepQuery: on_sleep_query,
        WifiSleepAdd: on_sleep_add,
        WifiSleepClear: on_sleep_clear,
    }
)
"""Request type → handler, for the pipeline's dispatch."""

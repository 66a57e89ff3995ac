"""Tier 3 does not format HCI packets for debug lines nobody logs.

Bumble's controller and host build an f-string of every HCI packet for a ``logger.debug``
call, whatever the level: a profile of ``tests/hil`` on tier 3 put about a fifth of the CPU
there (docs/tiers.md §5). :class:`SimController` and :class:`QuietHost` dispatch packets as
upstream does and leave the text to upstream when its debug logging is on (or a snooper
records the host's packets). The copies follow bumble 0.0.236: a test pins upstream's source.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.unit.requires import no_bumble

try:
    import bumble
except ModuleNotFoundError:
    no_bumble()

import bumble.controller
import bumble.host
from bleak import BleakClient, BleakScanner
from bumble.controller import Controller
from bumble.host import Host
from bumble.snoop import BtSnooper

from tests.unit.sim.conftest import LOCK_ADDRESS, EchoDevice, Notifications, send
from ttlock_hil.harness.sim.air import Air
from ttlock_hil.harness.sim.bumble import BumbleTier, PeripheralTiming
from ttlock_hil.harness.sim.bumble.radio import QuietHost

DEADLINE = 5.0
STATUS = 0x14
FAST = PeripheralTiming(advert_interval=0.01, refresh=0.02)

# The upstream methods the quiet ones stand in for (bumble 0.0.236). A new Bumble that
# changes one of them fails here: compare it with the copy in controller.py / radio.py.
UPSTREAM = {
    "Controller.on_hci_packet": "62d8e3f11f5b643c",
    "Controller.send_hci_packet": "99dac315f5ccc728",
    "Host.on_hci_packet": "8a97cd66d5162d55",
    "Host.send_hci_packet": "c466fa2806dd157f",
}


@pytest.fixture
async def tier() -> AsyncIterator[BumbleTier]:
    bumble_tier = BumbleTier(Air([EchoDevice()]), timing=FAST)
    try:
        yield bumble_tier
    finally:
        async with asyncio.timeout(DEADLINE):
            await bumble_tier.aclose()


@pytest.fixture
def formatted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``color()`` call of Bumble's controller and host modules: their debug text."""
    calls: list[str] = []

    def counting(module: Any) -> Callable[..., str]:
        upstream = module.color

        def color(text: str, *args: Any, **kwargs: Any) -> str:
            calls.append(f"{module.__name__}: {text}")
            return str(upstream(text, *args, **kwargs))

        return color

    for module in (bumble.controller, bumble.host):
        monkeypatch.setattr(module, "color", counting(module))
    return calls


async def _status_round_trip(tier: BumbleTier) -> list[bytes]:
    """Scan, connect, a status request in 20-byte writes, its notified reply, disconnect."""
    scanner, client_backend = tier.backends
    received = Notifications()
    async with asyncio.timeout(DEADLINE):
        found = await BleakScanner.find_device_by_address(
            LOCK_ADDRESS, timeout=2.0, backend=scanner
        )
        assert found is not None
        async with BleakClient(found, backend=client_backend, timeout=2.0) as client:
            await client.start_notify("fff4", received)
            await send(client, EchoDevice().request(STATUS))
            return await received.wait_frames(1)


async def test_hci_packets_are_not_formatted_when_bumble_does_not_log_them(
    tier: BumbleTier, formatted: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bumble")
    frames = await _status_round_trip(tier)
    assert frames == [EchoDevice().reply_to(STATUS)[:-2]]
    assert formatted == []


async def test_with_bumble_debug_logging_on_every_packet_is_logged_as_upstream_does(
    tier: BumbleTier, formatted: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bumble")
    await _status_round_trip(tier)
    lines = {(record.name, record.getMessage().split(":")[0]) for record in caplog.records}
    assert any("CONTROLLER -> HOST" in text for name, text in lines if name == "bumble.host")
    assert any("HOST -> CONTROLLER" in text for name, text in lines if name == "bumble.host")
    assert any("HOST -> CONTROLLER" in text for name, text in lines if name == "bumble.controller")
    assert any("CONTROLLER -> HOST" in text for name, text in lines if name == "bumble.controller")
    assert formatted


async def test_a_snooping_host_still_records_every_packet(
    tier: BumbleTier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bumble")
    radio = await tier.radio()
    host = radio.central.device.host
    assert isinstance(host, QuietHost)
    capture = io.BytesIO()
    host.snooper = BtSnooper(capture)
    before = len(capture.getvalue())
    await _status_round_trip(tier)
    # Both directions, each packet a btsnoop record: far more than the 16-byte header.
    assert len(capture.getvalue()) - before > 40 * 20


def test_the_copied_dispatch_matches_the_pinned_bumble() -> None:
    found = {
        f"{owner.__name__}.{name}": hashlib.sha256(
            inspect.getsource(getattr(owner, name)).encode()
        ).hexdigest()[:16]
        for owner in (Controller, Host)
        for name in ("on_hci_packet", "send_hci_packet")
    }
    assert found == UPSTREAM

"""Tier 3: the simulator's devices behind a real Bluetooth host stack (Bumble).

Where tier 2 runs bleak's own BlueZ backend against a D-Bus double, this tier runs a real
host stack on both sides of the link — HCI, L2CAP, ATT/GATT, MTU exchange, CCCD writes,
advertising with scan responses — in one process, with `Bumble <https://github.com/google/bumble>`_
(``pip install ttlock-hil[bumble]``, pinned: its 0.0.x API moves). The same peripheral puts
a virtual lock or gateway on a real controller (a USB dongle) for phones and apps:
``ttlock-hil sim serve`` (docs/sim-serve.md).

* :class:`BumblePeripheral` — a device of an air as a Bumble GATT peripheral;
* :class:`BumbleScannerBackend`, :class:`BumbleClientBackend` — bleak backends on a
  Bumble central (:class:`BumbleCentral`);
* :class:`SimController`, :class:`SimLink` — Bumble's virtual controller and link with a
  real controller's behaviour where the tier relies on it;
* :class:`BumbleRadio`, :class:`BumbleTier` — the in-process set-up a lab uses;
* :class:`SimServer` — one device on a real or exported controller (``sim serve``).

What the tier proves and what it does not: docs/tiers.md §7. Importing this package
needs Bumble; without it the import fails with ``ModuleNotFoundError: bumble``.
"""

from __future__ import annotations

from .backend import (
    GATT_TIMEOUT_S,
    BumbleClientBackend,
    BumbleScannerBackend,
    CentralSource,
    advertisement_data,
    bleak_uuid,
)
from .central import DEFAULT_CENTRAL_MTU, BumbleCentral, Sighting
from .controller import LEGACY_ADVERT_LIMIT, SimController, SimLink
from .peripheral import AdvertTooLong, BumblePeripheral, PeripheralTiming, advert_payloads
from .radio import CENTRAL_ADDRESS, BumbleRadio, BumbleTier, RadioError, host_on, peripheral_config
from .serve import SimServer, served_address

__all__ = [
    "CENTRAL_ADDRESS",
    "DEFAULT_CENTRAL_MTU",
    "GATT_TIMEOUT_S",
    "LEGACY_ADVERT_LIMIT",
    "AdvertTooLong",
    "BumbleCentral",
    "BumbleClientBackend",
    "BumblePeripheral",
    "BumbleRadio",
    "BumbleScannerBackend",
    "BumbleTier",
    "CentralSource",
    "PeripheralTiming",
    "RadioError",
    "Sighting",
    "SimController",
    "SimLink",
    "SimServer",
    "advert_payloads",
    "advertisement_data",
    "bleak_uuid",
    "host_on",
    "peripheral_config",
    "served_address",
]

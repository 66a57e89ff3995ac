"""The lab: a validated config turned into reachable devices, sessions and the API.

``Lab`` is where a test (or the CLI, or the pytest plugin) starts::

    lab = Lab.load()                         # hil-config.yaml, or Lab(config)
    async with lab, lab.lock("front-door") as lock:
        await lock.init()                    # factory-fresh virtual lock
        await lock.unlock()

It holds what every session shares: the plugin version whose codes results
are mapped to, the timeouts, the retry policy, the :class:`~ttlock_hil.harness.trace.Redactor`
(``redact:``), where traces go and where credentials are kept.

**Transports by moniker.** A device's ``address:`` decides how bleak reaches
it, and :meth:`Lab.transport` is the one place that looks (docs/architecture.md §11.4,
Bumble's moniker idea):

* ``sim:<preset>`` — a virtual device built by ``ttlock_hil.harness.sim.presets.create_device``
  is put on the lab's :class:`~ttlock_hil.harness.sim.air.Air`; bleak gets the virtual
  scanner/client backends bound to that air. The device's BLE address is
  derived from the lab and device names (stable across processes). A
  ``credentials:`` reference makes the virtual lock start paired with those
  credentials; without one it starts factory-fresh, in every process.
* a BLE address (``C1:23:45:67:89:AB``, or a CoreBluetooth UUID) — bleak's OS
  backend (``backend=None``), BlueZ adapter from ``adapter:`` if given.

The lab's ``tier`` moves the ``sim:`` devices (docs/tiers.md): ``bluez`` reaches them at
their MACs through bleak's OS backend (a BlueZ double serves them); ``bumble`` hosts them
as Bumble peripherals on a link in this process and reaches them through bleak backends on
a Bumble central (``ttlock_hil.harness.sim.bumble``). On ``bumble`` with
``TTLOCK_HIL_BUMBLE_HCI`` set (a Bumble transport, e.g. ``tcp-client:127.0.0.1:PORT`` from
``ttlock-hil sim serve --export``) the central runs on that controller instead, and every
device is reached through it by its BLE address.

Everything above (link, session, Lock/Gateway API) receives a
:class:`~ttlock_hil.harness.link.Transport` and never asks which kind it is.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from ttlock_hil.protocol.cassette import Cassette, DeviceInfo
from ttlock_hil.protocol.codes import PluginVersion
from ttlock_hil.protocol.device import Clock, DeviceKind
from ttlock_hil.protocol.errormap import GATEWAY_CODES_SINCE, gateway_codes_missing
from ttlock_hil.protocol.frame import V3_HEADER

from .clock import SystemClock
from .config import DeviceConfig, LabConfig, RetryPolicy, Timeouts, load_config
from .credentials import CredentialStore, LockCredentials, save_credentials
from .errors import ConfigError
from .link import SeenDevice, Transport, scan
from .session import Session
from .trace import RedactingFilter, Redactor

if TYPE_CHECKING:
    from .cassette import CassetteRecorder
    from .gateway import Gateway
    from .lock import Lock
    from .sim.air import Air, OnAir
    from .sim.bench import SimBench
    from .sim.bumble import BumbleTier
    from .sim.device import VirtualDevice
    from .sim.replay import CassetteDevice

__all__ = ["BUMBLE_HCI_VARIABLE", "DeviceFactory", "Lab", "Sighting", "sim_address"]

logger = logging.getLogger(__name__)

BUMBLE_HCI_VARIABLE = "TTLOCK_HIL_BUMBLE_HCI"
"""On the bumble tier: the Bumble transport of the harness's central (unset: in-process)."""


class DeviceFactory(Protocol):
    """Builds the virtual device behind a ``sim:<preset>`` address.

    The signature of ``ttlock_hil.harness.sim.presets.create_device`` (the default).
    """

    def __call__(
        self,
        preset: str,
        /,
        *,
        name: str | None = None,
        address: str | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        credentials: LockCredentials | None = None,
    ) -> VirtualDevice: ...


def _default_factory() -> DeviceFactory:
    from .sim.presets import create_device  # only labs with sim: devices need it

    factory: DeviceFactory = create_device
    return factory


def sim_address(lab: str, device: str) -> str:
    """The BLE address of a ``sim:`` device: derived from the names, stable everywhere.

    A static random address (two top bits set,
    Bluetooth Core Vol 6 Part B §1.3.2.1), so two virtual devices of one preset never collide.
    """
    digest = bytearray(hashlib.sha256(f"{lab}/{device}".encode()).digest()[:6])
    digest[0] |= 0xC0
    return ":".join(f"{b:02X}" for b in digest)


@dataclass(frozen=True, slots=True)
class Sighting:
    """A device seen by :meth:`Lab.scan`: its config name (if configured) and advert."""

    device: str | None
    seen: SeenDevice

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, **self.seen.to_dict()}


class Lab:
    """A lab config made usable (see the module docstring).

    ``clock``: "now" for the harness (TIME_CALIBRATE, unlock timestamps,
    e-key windows) and for the virtual devices; default the system clock.
    ``rng``: randomness of the virtual devices and of new admin passwords /
    unlock keys (default: the OS's secure generator for the latter).
    ``device_factory``: what builds ``sim:`` devices (default:
    ``ttlock_hil.harness.sim.presets.create_device``). ``trace_dir``: where session traces
    go (default ``<reports>/traces``). ``log_file``: also log the harness there,
    through the redacting filter. ``environ``: where ``env:`` credentials are
    read (default ``os.environ``). ``tier``: where ``sim:`` devices live — ``virtual``
    (in this process), ``bluez`` (in a BlueZ double, reached through bleak's own OS
    backend at the device's MAC; :func:`ttlock_hil.harness.tiers.running_tier` starts it)
    or ``bumble`` (Bumble peripherals on a link of this process, reached through a Bumble
    central built in the running loop; see the module docstring for
    ``TTLOCK_HIL_BUMBLE_HCI``, read from ``environ``).
    """

    def __init__(
        self,
        config: LabConfig,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        device_factory: DeviceFactory | None = None,
        trace_dir: Path | None = None,
        log_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        tier: str = "virtual",
        record: Path | None = None,
        replay: Mapping[str, Cassette] | None = None,
    ) -> None:
        if tier not in ("virtual", "bluez", "bumble"):
            raise ConfigError(
                f"unknown tier {tier!r}", field="tier", fix="use one of: virtual, bluez, bumble"
            )
        self.config = config
        self.tier = tier
        if clock is None and replay:
            from .cassette import ReplayClock

            clock = ReplayClock()  # the cassettes step it through their recorded times
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._sim_rng = rng
        self.rng: random.Random = rng if rng is not None else random.SystemRandom()
        self._factory = device_factory
        self.trace_dir = Path(trace_dir) if trace_dir is not None else config.reports / "traces"
        self.redactor = Redactor(enabled=config.redact)
        self._environ = environ
        self._air: Air | None = None
        self._backends: tuple[type[Any], type[Any]] | None = None
        self._bumble: BumbleTier | None = None
        self._bumble_hci = (environ if environ is not None else os.environ).get(BUMBLE_HCI_VARIABLE)
        self._sessions: list[Session] = []
        self.scan_errors: list[Exception] = []
        """What failed in the last :meth:`scan` while other scanners still reported."""
        self._serial = count(1)
        if record is not None:
            from .cassette import prepare_cassette_path

            # A path no cassette can take fails now, not after the session it records.
            record = prepare_cassette_path(record)
        self.record: Path | None = Path(record) if record is not None else None
        """Where the next lock session writes its cassette (docs/replay.md); ``None``: nowhere."""
        self.replay: dict[str, Cassette] = dict(replay or {})
        for name in self.replay:
            self.device(name)  # a ConfigError naming the configured devices, for a typo
        """Devices played by a cassette instead of their preset (replay R2, docs/replay.md)."""
        self._replayed: dict[str, list[CassetteRecorder]] = {}
        self._recorders: dict[Path, CassetteRecorder] = {}
        self.players: dict[str, CassetteDevice] = {}
        """The cassette devices on the air, by device name (their ``check()`` tells the result)."""
        self._log_handler: logging.Handler | None = None
        self._log_level = logging.NOTSET
        if log_file is not None:
            self._attach_log(Path(log_file))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Lab:
        """A lab from a config file (``None``: the default ``hil-config.yaml``)."""
        return cls(load_config(path), **kwargs)

    def __repr__(self) -> str:
        return f"<Lab {self.config.lab}: {len(self.config.devices)} devices>"

    # --- shared settings --------------------------------------------------------------

    @property
    def timeouts(self) -> Timeouts:
        return self.config.timeouts

    @property
    def retry(self) -> RetryPolicy:
        return self.config.retry

    @property
    def credential_store(self) -> CredentialStore:
        return self.config.credential_store()

    def plugin_version(self, name: str) -> PluginVersion:
        """The plugin version whose codes ``name``'s results map to."""
        return self.config.plugin_version_for(name)

    def device(self, name: str) -> DeviceConfig:
        """The config entry of ``name`` (ConfigError with a suggestion otherwise)."""
        return self.config.device(name)

    def credentials(self, name: str) -> LockCredentials | None:
        """The device's credentials (config reference or store), ``None`` if it has none."""
        return self.config.credentials_for(name, environ=self._environ)

    def save_credentials(self, name: str, creds: LockCredentials) -> Path:
        """Persist ``creds`` atomically where ``name``'s credentials belong; returns the path.

        ``file:`` references are written in place, everything else goes to the
        credential store (an ``env:`` variable cannot be written: copy the file).
        The previous version is kept as ``.bak``.
        """
        device = self.device(name)
        path = self.config.credentials_path_for(device)
        store = self.credential_store
        if path == store.path(device.name):
            return store.save(device.name, creds)
        save_credentials(path, creds)
        return path

    # --- transports (the one place that knows sim: from radio) ------------------------

    def transport(self, name: str) -> Transport:
        """How bleak reaches device ``name``, resolved from its address moniker."""
        device = self.device(name)
        preset = device.sim_preset
        if name in self.replay:
            # Played by its cassette, on tier 1 whatever the device is (docs/replay.md).
            scanner, client = self._virtual_backends()
            return Transport(
                moniker=device.address,
                address=self.air.get(sim_address(self.config.lab, name)).address,
                scanner_backend=scanner,
                client_backend=client,
            )
        if preset is not None and self.tier == "bluez":
            # The double serves it like bluetoothd serves a real lock: the radio path.
            return Transport(moniker=device.address, address=sim_address(self.config.lab, name))
        if self.tier == "bumble" and (preset is not None or self._bumble_hci is not None):
            if preset is not None:
                self._refuse_remote_central(name)
                address = self.air.get(sim_address(self.config.lab, name)).address
            else:
                address = device.address
            scanner, client = self._bumble_backends()
            return Transport(
                moniker=device.address,
                address=address,
                scanner_backend=scanner,
                client_backend=client,
            )
        if preset is not None:
            air = self.air
            scanner, client = self._virtual_backends()
            return Transport(
                moniker=device.address,
                address=air.get(sim_address(self.config.lab, device.name)).address,
                scanner_backend=scanner,
                client_backend=client,
            )
        macs = {adapter.name: adapter.mac for adapter in self.config.adapters}
        return Transport(
            moniker=device.address,
            address=device.address,
            adapter=device.adapter,
            adapter_mac=macs.get(device.adapter) if device.adapter is not None else None,
        )

    @property
    def air(self) -> Air:
        """The virtual radio space holding every ``sim:`` device of the config (built once)."""
        if self._air is None:
            self._air = self._build_air()
        return self._air

    def virtual(self, name: str) -> OnAir:
        """The simulated device behind ``name`` (faults, range, link drops) — sim: only."""
        device = self.device(name)
        if device.sim_preset is None:
            raise ConfigError(
                f"{name} is a radio device ({device.address}): faults and range exist only "
                "for simulated devices",
                field="address",
                fix="use a sim:<preset> device for fault-injection tests",
            )
        if self.tier == "bluez":
            raise ConfigError(
                f"{name} lives in the BlueZ double on this tier, not in this process",
                field="tier",
                fix="drive its faults through the double's control interface (docs/tiers.md)",
            )
        if self.tier == "bumble":
            self._refuse_remote_central(name)
        return self.air.get(sim_address(self.config.lab, name))

    def _refuse_remote_central(self, name: str) -> None:
        if self._bumble_hci is not None:
            raise ConfigError(
                f"{name} is a sim: device, but the Bumble central runs on "
                f"{self._bumble_hci} ({BUMBLE_HCI_VARIABLE}), where this process hosts nothing",
                field="address",
                fix="serve it with 'ttlock-hil sim serve' and give the MAC it prints as "
                f"address:, or unset {BUMBLE_HCI_VARIABLE} (docs/sim-serve.md)",
            )

    def bench(self, name: str) -> SimBench:
        """The bench of simulated device ``name``: faults, settings, range, link drops.

        In this process on the virtual tier; on the BlueZ tier the double's bench,
        reached over its control interface (close it with ``close()`` when done).
        """
        device = self.device(name)
        if device.sim_preset is None:
            raise ConfigError(
                f"{name} is a radio device ({device.address}): a bench exists only for "
                "simulated devices",
                field="address",
                fix="use a sim:<preset> device for fault-injection tests",
            )
        if self.tier == "bluez":
            from .sim.bluez.remote import RemoteBench

            bus = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
            if not bus:
                raise ConfigError(
                    "the BlueZ tier is not running (DBUS_SYSTEM_BUS_ADDRESS is not set)",
                    field="tier",
                    fix="start it with running_tier() or 'ttlock-hil sim bluez' (docs/tiers.md)",
                )
            return RemoteBench(name, sim_address(self.config.lab, name), bus)
        from .sim.bench import VirtualBench

        return VirtualBench(name, self.virtual(name))

    def _build_air(self) -> Air:
        from .sim.air import Air

        air = Air()
        factory = self._factory if self._factory is not None else None
        for device in self.config.devices:
            preset = device.sim_preset
            if preset is None and device.name not in self.replay:
                continue
            if factory is None:
                factory = _default_factory()
            creds = (
                self.config.credentials_for(device, environ=self._environ)
                if device.credentials is not None
                else None
            )
            cassette = self.replay.get(device.name)
            if cassette is not None:
                from .sim.replay import CassetteDevice

                player = CassetteDevice(
                    cassette,
                    address=sim_address(self.config.lab, device.name),
                    clock=self.clock,
                    credentials=creds,
                )
                self.players[device.name] = player
                air.add(player)
                continue
            assert preset is not None
            air.add(
                factory(
                    preset,
                    address=sim_address(self.config.lab, device.name),
                    clock=self.clock,
                    rng=self._sim_rng,
                    credentials=creds,
                )
            )
        return air

    def _bumble_backends(self) -> tuple[type[Any], type[Any]]:
        if self._bumble is None:
            try:
                from .sim.bumble import BumbleTier
            except ModuleNotFoundError as exc:
                if exc.name is None or exc.name.split(".")[0] != "bumble":
                    raise
                raise ConfigError(
                    "the bumble tier needs Bumble, which is not installed",
                    field="tier",
                    fix="pip install ttlock-hil[bumble]",
                ) from exc
            air = self.air if self._bumble_hci is None else None
            self._bumble = BumbleTier(air, central_hci=self._bumble_hci)
        return self._bumble.backends

    def _virtual_backends(self) -> tuple[type[Any], type[Any]]:
        if self._backends is None:
            from .sim.backend import VirtualClientBackend, VirtualScannerBackend

            air = self.air
            self._backends = (VirtualScannerBackend.bind(air), VirtualClientBackend.bind(air))
        return self._backends

    # --- sessions and the API ---------------------------------------------------------

    def new_trace_path(self, name: str) -> Path:
        """A fresh trace file name for a session of ``name``."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return self.trace_dir / f"{name}-{stamp}-{os.getpid()}-{next(self._serial)}.jsonl"

    def session(self, name: str, *, trace_path: Path | None = None) -> Session:
        """A new (unconnected) session to ``name``, using its credentials if any."""
        device = self.device(name)
        creds = self.credentials(name) if device.kind is DeviceKind.LOCK else None
        if creds is not None:
            self.redactor.add_credentials(creds)
        session = Session(
            self.transport(name),
            device=name,
            kind=device.kind,
            plugin_version=self.plugin_version(name),
            timeouts=self.timeouts,
            retry=self.retry,
            redactor=self.redactor,
            trace_path=trace_path if trace_path is not None else self.new_trace_path(name),
            lock_key=creds.aes_key if creds is not None else None,
            header=creds.header if creds is not None else V3_HEADER,
        )
        if name in self.replay:
            # What the harness makes of the played lock, compared by check_replay().
            session.recorder = self._recorder(device, creds, None)
            self._replayed.setdefault(name, []).append(session.recorder)
        elif self.record is not None and device.kind is DeviceKind.LOCK:
            session.recorder = self._recording(device, creds, self.record)
        self._sessions = [s for s in self._sessions if not s.closed]  # forget closed ones
        self._sessions.append(session)
        return session

    def check_replay(self) -> None:
        """R2's verdict: raise the first :class:`~ttlock_hil.protocol.cassette.ReplayMismatch`.

        A request the cassette did not record (expected and actual), recorded requests
        that never came, or an interaction the harness ended with another outcome or code
        than on the bench — each names its interaction.
        """
        from ttlock_hil.protocol.cassette import compare_outcomes

        for name, player in self.players.items():
            player.check(complete=False)  # a request the recording lacks says most
            replayed = [r.cassette() for r in self._replayed.get(name, [])]
            interactions = tuple(i for c in replayed for i in c.interactions)
            if replayed:
                whole = replace(replayed[0], interactions=interactions)
                for problem in compare_outcomes(self.replay[name], whole):
                    if problem.actual != "no request":
                        raise problem
            player.check()

    def _recording(
        self, device: DeviceConfig, creds: LockCredentials | None, path: Path
    ) -> CassetteRecorder:
        """The recorder of ``device`` at ``path``: every session of the device records into
        one cassette (a connection each); a second device records beside it, named after it."""
        owner = self._recorders.get(path)
        if owner is not None and owner.device.name != device.name:
            path = path.with_name(
                f"{path.name.split('.')[0]}.{device.name}{''.join(path.suffixes)}"
            )
        recorder = self._recorders.get(path)
        if recorder is None:
            recorder = self._recorders[path] = self._recorder(device, creds, path)
        return recorder

    def _source(self, preset: str | None) -> str:
        """Where a recording comes from: a tier of sim: devices, a Bumble controller, radio."""
        if self.tier == "bumble" and self._bumble_hci is not None:
            return f"bumble ({self._bumble_hci})"  # a real dongle or an exported controller
        return self.tier if preset is not None else "radio"

    def _recorder(
        self, device: DeviceConfig, creds: LockCredentials | None, path: Path | None
    ) -> CassetteRecorder:
        from .cassette import CassetteRecorder

        preset = device.sim_preset
        firmware = hardware = None
        if preset is not None:
            from .sim.presets import lock_preset

            record = lock_preset(preset)
            firmware, hardware = record.firmware, record.hardware
        return CassetteRecorder(
            path,
            device=DeviceInfo(
                name=device.name,
                model=device.model,
                preset=preset,
                firmware=firmware,
                hardware=hardware,
            ),
            plugin_version=str(self.plugin_version(device.name)),
            source=self._source(preset),
            clock=self.clock,
            credentials=creds,
            redactor=self.redactor,
        )

    def _require_kind(self, name: str, kind: DeviceKind) -> DeviceConfig:
        device = self.device(name)
        if device.kind is not kind:
            raise ConfigError(
                f"{name} is a {device.kind.value}, not a {kind.value}",
                field="kind",
                fix=f"use lab.{device.kind.value}({name!r})",
            )
        return device

    def lock(self, name: str, *, trace_path: Path | None = None) -> Lock:
        """The :class:`~ttlock_hil.harness.lock.Lock` API for ``name`` (connects lazily)."""
        from .lock import Lock

        self._require_kind(name, DeviceKind.LOCK)
        session = self.session(name, trace_path=trace_path)
        return Lock(
            session,
            credentials=self.credentials(name),
            save=lambda creds: self.save_credentials(name, creds),
            clock=self.clock,
            rng=self.rng,
        )

    def gateway(self, name: str, *, trace_path: Path | None = None) -> Gateway:
        """The :class:`~ttlock_hil.harness.gateway.Gateway` API for ``name`` (connects lazily)."""
        from .gateway import Gateway

        device = self._require_kind(name, DeviceKind.GATEWAY)
        no_codes = gateway_codes_missing(self.plugin_version(name))
        if no_codes is not None:  # validation refuses it; a config copied in code may not
            raise ConfigError(
                f"gateway {name}: {no_codes}",
                file=self.config.source,
                field="plugin_version",
                fix=f'set plugin_version: "{GATEWAY_CODES_SINCE}" or newer for this gateway',
            )
        return Gateway(self.session(name, trace_path=trace_path), model=device.model)

    # --- scanning ---------------------------------------------------------------------

    async def scan(
        self, *, duration: float | None = None, until_all_seen: bool = True
    ) -> list[Sighting]:
        """TTLock devices seen on every transport of the lab, named where configured.

        One scan per distinct scanner (virtual air, each radio adapter), run
        together. ``until_all_seen`` ends a scan as soon as every configured
        device it can reach was seen; otherwise it runs for ``duration``
        (default ``timeouts.scan``). A scanner that fails (an adapter that cannot
        scan) does not hide what the others saw: its error is kept in
        :attr:`scan_errors` and logged; only when every scanner failed is the first
        error raised.
        """
        deadline = duration if duration is not None else self.timeouts.scan
        groups: dict[tuple[Any, ...], tuple[Transport, set[str]]] = {}
        names: dict[str, str] = {}
        for device in self.config.devices:
            transport = self.transport(device.name)
            key = (transport.scanner_backend, transport.adapter)
            group = groups.setdefault(key, (transport, set()))
            group[1].add(transport.address)
            names[transport.address] = device.name
        if not groups:
            groups[(None, None)] = (Transport(moniker="radio", address=""), set())

        async def one(transport: Transport, wanted: set[str]) -> list[SeenDevice]:
            def done(seen: Mapping[str, SeenDevice]) -> bool:
                return until_all_seen and bool(wanted) and wanted <= seen.keys()

            return await scan(transport, duration=deadline, until=done)

        outcomes = await asyncio.gather(
            *(one(t, w) for t, w in groups.values()), return_exceptions=True
        )
        self.scan_errors = [o for o in outcomes if isinstance(o, Exception)]
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancelled or interrupted: not a scanner's failure
        if self.scan_errors and len(self.scan_errors) == len(outcomes):
            raise self.scan_errors[0]
        for error in self.scan_errors:
            logger.warning("one scanner failed, the others' sightings stand: %s", error)
        found: dict[str, SeenDevice] = {}
        for outcome in outcomes:
            if isinstance(outcome, list):
                for seen in outcome:
                    found[seen.address] = seen
        return [Sighting(names.get(address), seen) for address, seen in sorted(found.items())]

    # --- lifetime -----------------------------------------------------------------------

    def _attach_log(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.addFilter(RedactingFilter(self.redactor))
        handler.setLevel(logging.DEBUG)
        root = logging.getLogger("ttlock_hil")
        self._log_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        self._log_handler = handler

    async def aclose(self) -> None:
        """Close every session this lab opened, the Bumble radio (tier 3), and the log file."""
        sessions, self._sessions = self._sessions, []
        first_error: Exception | None = None
        try:
            # One session failing to close must not leave the others connected
            # (a real lock keeps refusing other centrals while we hold it).
            for session in sessions:
                try:
                    await session.aclose()
                except Exception as exc:  # noqa: BLE001 - re-raised once all are closed
                    logger.warning("closing a session failed: %s", exc)
                    first_error = first_error or exc
            if first_error is not None:
                raise first_error
        finally:
            try:
                if self._bumble is not None:
                    # Hosts powered off, so none of Bumble's (unnamed) tasks outlive the lab;
                    # the next use in a loop builds the radio again.
                    await self._bumble.aclose()
            finally:
                handler, self._log_handler = self._log_handler, None
                if handler is not None:
                    root = logging.getLogger("ttlock_hil")
                    root.removeHandler(handler)
                    root.setLevel(self._log_level)
                    handler.close()

    async def __aenter__(self) -> Lab:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

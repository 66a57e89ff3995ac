"""A TTLock bench as labgrid sees it: a resource, a driver and a strategy.

Registered with labgrid's ``target_factory`` when imported, so a lab's environment file
names them after ``imports: [ttlock_hil.harness.labgrid.bench]`` (docs/labgrid.md)::

    targets:
      main:
        resources:
          RemotePlace: {name: bench-01}     # or a TTLockBench entry, for a bench on this PC
        drivers:
          TTLockBenchDriver: {}
          TTLockStrategy: {}

* :class:`TTLockBench` — the bench: the PC that owns the radio (``host``), the path of the
  bench's ``hil-config.yaml`` on that PC (``config``), the Bluetooth adapter (``adapter``,
  which the config must list under ``adapters:``), the tier of its ``sim:`` devices, how to
  reach and run ``ttlock-hil`` there. Every parameter is a flat scalar: an exporter exports
  the class without knowing it, and its parameters cannot be lists.
* :class:`TTLockBenchDriver` — :meth:`~TTLockBenchDriver.lab` gives a ready
  :class:`~ttlock_hil.harness.lab.Lab` of the bench (the Lock/Gateway API in a lab's own
  labgrid tests); :meth:`~TTLockBenchDriver.nightly_command` the bench's nightly command line.
* :class:`TTLockStrategy` — ``unknown → ready``: the driver active and the bench's config
  checked against the resource. ``factory`` (through a reset) is not built yet and says so.
"""

from __future__ import annotations

import enum
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any, ClassVar, Final

import attr
from labgrid.driver.common import Driver
from labgrid.factory import target_factory
from labgrid.resource.common import Resource
from labgrid.step import step
from labgrid.strategy.common import Strategy, StrategyError

from ttlock_hil.harness.config import LabConfig, load_config
from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.labgrid import LabgridError
from ttlock_hil.harness.tiers import TIERS

__all__ = ["LOCAL_HOSTS", "Status", "TTLockBench", "TTLockBenchDriver", "TTLockStrategy"]

LOCAL_HOSTS: Final = frozenset({"", "localhost", "127.0.0.1", "::1"})
"""Host names that always mean this PC (besides its own host name)."""


def _text(value: object) -> str:
    return "" if value is None else str(value)


@target_factory.reg_resource
@attr.s(eq=False)
class TTLockBench(Resource):  # type: ignore[misc]  # labgrid is untyped
    """One bench: the PC next to its devices and the lab config that lists them.

    ``host``: the PC that owns the radio (``localhost``: this one); ``config``: the path of
    the bench's ``hil-config.yaml`` on that PC; ``adapter``: the HCI adapter of the bench
    (empty for a virtual bench); ``tier``: where its ``sim:`` devices live; ``user``: the SSH
    user on ``host`` (empty: the NetworkService default); ``command``: ``ttlock-hil`` on
    ``host``; ``workdir``: where a remote night is written before it is fetched; ``suite``:
    the test directory of the bench's nights (empty: the regression suite).
    """

    host = attr.ib(default="localhost", converter=_text)
    config = attr.ib(default="hil-config.yaml", converter=_text)
    adapter = attr.ib(default="", converter=_text)
    tier = attr.ib(default="virtual", converter=_text)
    user = attr.ib(default="", converter=_text)
    command = attr.ib(default="ttlock-hil", converter=_text)
    workdir = attr.ib(default="/tmp", converter=_text)
    suite = attr.ib(default="", converter=_text)

    @property
    def local(self) -> bool:
        """True when the bench's radio is on this PC (its night runs here, not over SSH)."""
        if self.host in LOCAL_HOSTS:
            return True
        return self.host in {socket.gethostname(), socket.getfqdn()}


def bench_from_params(params: dict[str, Any]) -> TTLockBench:
    """A :class:`TTLockBench` from the parameters an exporter published (no target)."""
    known = {field.name for field in attr.fields(TTLockBench) if field.init}
    return TTLockBench(None, None, **{k: v for k, v in params.items() if k in known})


def check_bench(bench: TTLockBench) -> LabConfig:
    """The bench's lab config, loaded and checked against the resource (:class:`ConfigError`).

    The adapter the resource names must be one the config lists under ``adapters:``; a
    virtual bench names none. The tier must be one the harness knows.
    """
    if bench.tier not in TIERS:
        raise ConfigError(
            f"TTLockBench tier {bench.tier!r} is unknown",
            field="tier",
            fix=f"use one of: {', '.join(TIERS)}",
        )
    config = load_config(bench.config)
    if bench.adapter:
        names = [adapter.name for adapter in config.adapters]
        if bench.adapter not in names:
            raise ConfigError(
                f"the TTLockBench adapter {bench.adapter!r} is not listed under adapters: of "
                f"{bench.config}",
                file=bench.config,
                field="adapters",
                fix=f"add '- name: {bench.adapter}' under adapters: (listed: "
                f"{', '.join(names) or 'none'}) or correct adapter: in the exporter's YAML",
            )
    return config


@target_factory.reg_driver
@attr.s(eq=False)
class TTLockBenchDriver(Driver):  # type: ignore[misc]  # labgrid is untyped
    """Gives the bench's :class:`Lab` and its nightly command line (see the module docstring)."""

    bindings: ClassVar[dict[str, str]] = {"bench": "TTLockBench"}

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.config: LabConfig | None = None

    def on_activate(self) -> None:
        self.config = check_bench(self.bench)

    def on_deactivate(self) -> None:
        self.config = None

    @Driver.check_active  # type: ignore[untyped-decorator]
    def lab(self, **kwargs: Any) -> Lab:
        """A ready :class:`Lab` of this bench (close it: ``async with driver.lab() as lab``).

        Only on the PC that owns the bench's radio (:class:`LabgridError` elsewhere).

        Keyword arguments go to :class:`Lab` (``trace_dir=``, ``clock=``…); the tier is the
        resource's unless given.
        """
        assert self.config is not None  # on_activate loaded it
        if not self.bench.local:
            raise LabgridError(
                f"the bench's radio is on {self.bench.host}, not on this PC",
                fix=f"run these tests on {self.bench.host} (a BLE lock answers the radio next "
                "to it), or run its night from here with ttlock-hil lab nightly",
            )
        kwargs.setdefault("tier", self.bench.tier)
        return Lab(self.config, **kwargs)

    def nightly_command(
        self, out: str | os.PathLike[str], extra: list[str] | None = None, *, reruns: int = 1
    ) -> list[str]:
        """The command line of this bench's night, on the PC that owns its radio.

        On this PC it is this Python's ``ttlock-hil``; on another it is the resource's
        ``command``. ``out`` is where the nights go; ``extra`` are pytest arguments.
        """
        return nightly_command(self.bench, out, extra, reruns=reruns)


def nightly_command(
    bench: TTLockBench,
    out: str | os.PathLike[str],
    extra: list[str] | None = None,
    *,
    reruns: int = 1,
) -> list[str]:
    """:meth:`TTLockBenchDriver.nightly_command` for a bench without a target."""
    program = (
        [sys.executable, "-m", "ttlock_hil.harness.cli"]
        if bench.local
        else shlex.split(bench.command)  # "/opt/venv/bin/python -m ttlock_hil.harness.cli"
    )
    command = [
        *program,
        "nightly",
        "--config",
        bench.config,
        "--out",
        str(out if bench.local else Path(out).as_posix()),
        "--tier",
        bench.tier,
        "--reruns",
        str(reruns),
    ]
    if bench.suite:
        command += ["--suite", bench.suite]
    return [*command, "--", *extra] if extra else command


class Status(enum.Enum):
    """Where a bench is, as :class:`TTLockStrategy` knows it."""

    unknown = 0
    ready = 1
    factory = 2


@target_factory.reg_driver
@attr.s(eq=False)
class TTLockStrategy(Strategy):  # type: ignore[misc]  # labgrid is untyped
    """``unknown → ready``: the bench's driver active, its config checked against the resource."""

    bindings: ClassVar[dict[str, str]] = {"bench_driver": "TTLockBenchDriver"}

    status: Status = attr.ib(default=Status.unknown)

    @step(args=["status"])  # type: ignore[untyped-decorator]
    def transition(self, status: str | Status) -> None:
        wanted = Status[status] if isinstance(status, str) else status
        if wanted is Status.unknown:
            self.target.deactivate(self.bench_driver)
            self.status = wanted
            return
        if wanted is Status.factory:
            raise StrategyError(
                "TTLockStrategy: factory (a reset of every device) is not built yet — use the "
                "factory_lock fixture of the ttlock-hil plugin on a virtual bench"
            )
        if self.status is not Status.ready:
            self.target.activate(self.bench_driver)
        self.status = wanted

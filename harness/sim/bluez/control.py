"""The double's control interface: the bench of each hosted device, over the same bus.

Tests on the BlueZ tier drive the simulated bench exactly as in-process: the double keeps
one :class:`~ttlock_hil.harness.sim.bench.VirtualBench` per device and exports it as
``io.ttlock_hil.Bench1`` at ``/io/ttlock_hil/bench`` — outside ``/org/bluez``, so bleak
never sees it. Arguments travel as JSON text in the simulator's own vocabulary
(:class:`~ttlock_hil.harness.sim.faults.Fault` names, rule options, bench settings), so
the logic stays the simulator's, not a second copy.
:class:`~ttlock_hil.harness.sim.bluez.remote.RemoteBench` is the client side.
"""

# No "from __future__ import annotations": dbus-fast reads these annotations at import
# time, and a postponed "-> None" would read as a missing D-Bus signature.

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Final

from dbus_fast import DBusError
from dbus_fast.annotations import DBusBool, DBusSignature, DBusStr
from dbus_fast.service import ServiceInterface, method

from ..bench import VirtualBench
from ..bench_settings import BenchSettingError
from ..faults import MAX_MTU, MIN_MTU, Fault, InvalidFault

if TYPE_CHECKING:
    from .double import BluezDouble

__all__ = ["BENCH_ACTIONS", "CONTROL_INTERFACE", "CONTROL_PATH", "BenchControl", "export_control"]

CONTROL_PATH: Final = "/io/ttlock_hil/bench"
CONTROL_INTERFACE: Final = "io.ttlock_hil.Bench1"
_ERROR: Final = "io.ttlock_hil.Error.InvalidArguments"
DBusUInt16 = Annotated[int, DBusSignature("q")]

BENCH_ACTIONS: Final = frozenset({"enter_passcode", "present_card", "present_finger", "push_state"})
"""What a person at the door does to a device (``Act``): nothing else is callable."""


class BenchControl(ServiceInterface):
    """``io.ttlock_hil.Bench1``: one bench per hosted device, begun anew per test."""

    def __init__(self, double: "BluezDouble") -> None:
        super().__init__(CONTROL_INTERFACE)
        self._double = double
        self._benches: dict[str, VirtualBench] = {}

    def _bench(self, address: str) -> VirtualBench:
        try:
            entry = self._double.air.get(address)
        except LookupError as exc:
            raise DBusError(_ERROR, str(exc)) from None
        bench = self._benches.get(entry.address)
        if bench is None:
            bench = self._benches[entry.address] = VirtualBench(entry.name, entry)
        return bench

    @method()
    def Begin(self, address: DBusStr) -> None:
        """A new bench for a new test: evidence (fired faults) and restore start here."""
        self._benches.pop(self._bench(address).address, None)
        self._bench(address)

    @method()
    def Inject(self, address: DBusStr, fault: DBusStr, options: DBusStr) -> None:
        """Arm ``fault`` (a Fault name) with the rule options given as a JSON object."""
        try:
            kind = Fault[fault]
            kwargs = json.loads(options or "{}")
            if not isinstance(kwargs, dict):
                raise TypeError("options must be a JSON object")
            self._bench(address).inject(kind, **kwargs)
        except (KeyError, TypeError, ValueError, InvalidFault) as exc:
            raise DBusError(_ERROR, f"cannot arm {fault}: {exc}") from None

    @method()
    def Clear(self, address: DBusStr) -> None:
        self._bench(address).faults.clear()

    @method()
    def Fired(self, address: DBusStr) -> DBusStr:
        """The faults that fired since the bench began, in order, as a JSON list."""
        return json.dumps(
            [
                {"fault": item.rule.fault.name, "command": item.command}
                for item in self._bench(address).fired
            ]
        )

    @method()
    def Set(self, address: DBusStr, settings: DBusStr) -> None:
        """Bench settings as a JSON object, checked by the device's declarations."""
        try:
            values = json.loads(settings or "{}")
            if not isinstance(values, dict):
                raise TypeError("settings must be a JSON object")
            self._bench(address).set(**values)
        except (TypeError, ValueError, BenchSettingError) as exc:
            raise DBusError(_ERROR, str(exc)) from None

    @method()
    def Act(self, address: DBusStr, action: DBusStr, arguments: DBusStr) -> DBusStr:
        """A bench action on the device (:data:`BENCH_ACTIONS`); its result as JSON."""
        if action not in BENCH_ACTIONS:
            raise DBusError(_ERROR, f"no bench action {action!r}; actions: {sorted(BENCH_ACTIONS)}")
        call = getattr(self._bench(address).device, action, None)
        if call is None:
            raise DBusError(_ERROR, f"this device has no {action!r}")
        try:
            args = json.loads(arguments or "[]")
            return json.dumps(call(*args))
        except (TypeError, ValueError) as exc:
            raise DBusError(_ERROR, f"{action}: {exc}") from None

    @method()
    def Restore(self, address: DBusStr) -> None:
        self._bench(address).restore()

    @method()
    def SetInRange(self, address: DBusStr, in_range: DBusBool) -> None:
        bench = self._bench(address)
        if in_range:
            bench.back_in_range()
        else:
            bench.out_of_range()

    @method()
    def DropLink(self, address: DBusStr) -> DBusBool:
        return self._bench(address).drop_link("the device dropped the link (bench)")

    @method()
    def SetMtu(self, address: DBusStr, mtu: DBusUInt16) -> None:
        """The ATT MTU the device's next connections negotiate (23..517)."""
        if not MIN_MTU <= mtu <= MAX_MTU:
            raise DBusError(_ERROR, f"mtu must be {MIN_MTU}..{MAX_MTU}, got {mtu}")
        self._double.air.get(address).mtu = int(mtu)

    @method()
    def Vanish(self) -> None:
        """bluetoothd goes away (crash, restart): the double leaves the bus at once."""
        asyncio.get_running_loop().call_soon(self._double.vanish)


def export_control(double: "BluezDouble") -> BenchControl:
    """Export the control interface on the double's bus."""
    control = BenchControl(double)
    double.bus.export(CONTROL_PATH, control)
    double.control = control
    return control

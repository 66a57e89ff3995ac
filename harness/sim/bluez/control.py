"""The double's control interface: fault injection and bench actions over the same bus.

Tests on the BlueZ tier drive the simulated bench the way they do in-process: arm a
fault, see which fired, take a device out of range, drop its link. The double exports
``io.ttlock_hil.Bench1`` at ``/io/ttlock_hil/bench`` — outside ``/org/bluez``, so bleak
never sees it. Arguments travel as JSON text: the fault plan's own vocabulary
(:class:`~ttlock_hil.harness.sim.faults.Fault` names and rule options), so the logic stays
the simulator's, not a second copy.
"""

# No "from __future__ import annotations": dbus-fast reads these annotations at import
# time, and a postponed "-> None" would read as a missing D-Bus signature.

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any, Final

from dbus_fast import DBusError
from dbus_fast.annotations import DBusBool, DBusSignature, DBusStr
from dbus_fast.service import ServiceInterface, method

from ..faults import MAX_MTU, MIN_MTU, Fault, InvalidFault

if TYPE_CHECKING:
    from .double import BluezDouble

__all__ = ["CONTROL_INTERFACE", "CONTROL_PATH", "BenchControl", "export_control"]

CONTROL_PATH: Final = "/io/ttlock_hil/bench"
CONTROL_INTERFACE: Final = "io.ttlock_hil.Bench1"
_ERROR: Final = "io.ttlock_hil.Error.InvalidArguments"
DBusUInt16 = Annotated[int, DBusSignature("q")]


class BenchControl(ServiceInterface):
    """``io.ttlock_hil.Bench1``: the fault plan and radio state of each hosted device."""

    def __init__(self, double: "BluezDouble") -> None:
        super().__init__(CONTROL_INTERFACE)
        self._double = double

    def _entry(self, address: str) -> Any:
        try:
            return self._double.air.get(address)
        except LookupError as exc:
            raise DBusError(_ERROR, str(exc)) from None

    @method()
    def Inject(self, address: DBusStr, fault: DBusStr, options: DBusStr) -> None:
        """Arm ``fault`` (a Fault name) with the rule options given as a JSON object."""
        try:
            kind = Fault[fault]
            kwargs = json.loads(options or "{}")
            if not isinstance(kwargs, dict):
                raise TypeError("options must be a JSON object")
            self._entry(address).faults.add(kind, **kwargs)
        except (KeyError, TypeError, ValueError, InvalidFault) as exc:
            raise DBusError(_ERROR, f"cannot arm {fault}: {exc}") from None

    @method()
    def Clear(self, address: DBusStr) -> None:
        self._entry(address).faults.clear()

    @method()
    def Fired(self, address: DBusStr) -> DBusStr:
        """Every fault that fired on the device, in order, as a JSON list."""
        history = self._entry(address).faults.history
        return json.dumps(
            [{"fault": item.rule.fault.name, "command": item.command} for item in history]
        )

    @method()
    def SetInRange(self, address: DBusStr, in_range: DBusBool) -> None:
        self._entry(address).set_in_range(bool(in_range))

    @method()
    def DropLink(self, address: DBusStr) -> DBusBool:
        return bool(self._entry(address).drop_link("the device dropped the link (bench)"))

    @method()
    def SetMtu(self, address: DBusStr, mtu: DBusUInt16) -> None:
        """The ATT MTU the device's next connections negotiate (23..517)."""
        if not MIN_MTU <= mtu <= MAX_MTU:
            raise DBusError(_ERROR, f"mtu must be {MIN_MTU}..{MAX_MTU}, got {mtu}")
        self._entry(address).mtu = int(mtu)

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

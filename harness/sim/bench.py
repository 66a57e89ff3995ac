"""A bench around one simulated device: fault injection and physical conditions, undone on request.

A test provokes a condition the way a lab would — it does something *to the
device or the radio* — and then asserts what the harness observed::

    async def test_silence_is_a_response_timeout(lock, virtual_device, hil_expected):
        virtual_device.inject(Fault.SILENCE, command=LockCommand.SEARCH_STATUS)
        async with hil_expected.check():
            await lock.status()

    async def test_low_battery_refuses_unlock(lock, virtual_device, hil_expected):
        virtual_device.set(battery=3)                 # the bench drains the battery
        async with hil_expected.check():
            await lock.unlock()

:class:`VirtualBench` is what the plugin's ``virtual_device`` fixture hands a
test. The settings it may change are the ones the device model declares
(:mod:`ttlock_hil.harness.sim.bench_settings`: ``VirtualLock.battery``,
``VirtualGateway.sim_card``…); :meth:`VirtualBench.restore` puts back
everything the bench changed (faults cleared, device back in range, settings
as they were when the bench was made), so the next test starts on the device
the strategy expects.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from .air import OnAir
from .bench_settings import BenchSetting, BenchSettingError, bench_settings
from .device import VirtualDevice
from .faults import Fault, FaultPlan, FaultRule, FiredFault

__all__ = ["SimBench", "VirtualBench"]


@runtime_checkable
class SimBench(Protocol):
    """What a test may do to a simulated device, wherever the device runs.

    :class:`VirtualBench` (in this process) and the BlueZ tier's remote bench both
    offer it; the ``virtual_device`` fixture hands a test one of them.
    """

    name: str

    @property
    def address(self) -> str: ...
    @property
    def device(self) -> Any:
        """Bench actions on the device (present a card, type a passcode…)."""

    @property
    def fired(self) -> tuple[FiredFault, ...]: ...
    def inject(self, fault: Fault, **options: Any) -> FaultRule: ...
    def set(self, **settings: Any) -> None: ...
    def out_of_range(self) -> None: ...
    def back_in_range(self) -> None: ...
    def drop_link(self, reason: str = ...) -> bool: ...
    def restore(self) -> None: ...
    def close(self) -> None: ...


class VirtualBench:
    """Fault injection and bench actions on one simulated device (see the module docstring).

    ``name`` is the device's name in the lab config (for messages); ``entry``
    its place on the :class:`~ttlock_hil.harness.sim.air.Air`. ``device`` is
    the simulated device itself for actions this class does not wrap
    (``present_card``, ``present_finger``, ``enter_passcode`` on a lock: what a
    person at the door does). Read its state only to set up the bench, never to
    decide what the harness should have seen.
    """

    def __init__(self, name: str, entry: OnAir) -> None:
        self.name = name
        self._entry = entry
        self._settings = bench_settings(entry.device)
        # The plan's history spans the whole run; this bench's evidence starts here.
        self._fired_before = len(entry.faults.history)
        self._saved: dict[str, Any] = {
            setting: declared.get(entry.device) for setting, declared in self._settings.items()
        }

    def __repr__(self) -> str:
        return f"<VirtualBench {self.name} {self._entry!r}>"

    @property
    def device(self) -> VirtualDevice:
        """The simulated device (bench actions: present a card, type a passcode…)."""
        return self._entry.device

    @property
    def address(self) -> str:
        return self._entry.address

    @property
    def settings(self) -> Mapping[str, BenchSetting[Any]]:
        """The bench settings the device declares, by name (type, valid values, meaning)."""
        return self._settings

    @property
    def faults(self) -> FaultPlan:
        """The device's fault plan (:meth:`inject` is the short way to arm one rule)."""
        return self._entry.faults

    @property
    def fired(self) -> tuple[FiredFault, ...]:
        """The faults that fired since this bench was made, in order (evidence that the
        condition happened; faults an earlier test fired on the device are not counted)."""
        return self._entry.faults.history[self._fired_before :]

    def inject(self, fault: Fault, **options: Any) -> FaultRule:
        """Arm ``fault`` (options as :meth:`~ttlock_hil.harness.sim.faults.FaultPlan.add`)."""
        return self._entry.faults.add(fault, **options)

    def set(self, **settings: Any) -> None:
        """Change physical conditions of the device: ``set(battery=3, frozen=True)``.

        Valid names and values are the device's :attr:`settings`; every value is
        checked before any is applied, so a bad one changes nothing
        (:class:`~ttlock_hil.harness.sim.bench_settings.BenchSettingError`, a ValueError).
        """
        checked: list[tuple[BenchSetting[Any], Any]] = []
        for setting, value in settings.items():
            declared = self._settings.get(setting)
            if declared is None:
                raise BenchSettingError(self._unknown(setting))
            checked.append((declared, declared.check(value, self._entry.device)))
        for declared, value in checked:
            declared.set(self._entry.device, value)

    def _unknown(self, setting: str) -> str:
        valid = ", ".join(self._settings) or "none for this device"
        near = difflib.get_close_matches(setting, list(self._settings), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        return f"{self.name}: no bench setting {setting!r}; {hint}valid: {valid}"

    def out_of_range(self) -> None:
        """Walk the device out of radio range (an open link drops)."""
        self._entry.set_in_range(False)

    def back_in_range(self) -> None:
        self._entry.set_in_range(True)

    def drop_link(self, reason: str = "the bench dropped the link") -> bool:
        """The device hangs up on the central; False if nobody was connected."""
        return self._entry.drop_link(reason)

    def close(self) -> None:
        """Nothing to release in-process (a remote bench leaves its bus here)."""

    def restore(self) -> None:
        """Undo the bench's changes: faults cleared, in range, settings put back."""
        self._entry.faults.clear()
        if not self._entry.in_range:
            self._entry.set_in_range(True)
        for setting, value in self._saved.items():
            self._settings[setting].set(self._entry.device, value)

"""Bench settings: the physical conditions a device model lets a bench change.

A lab provokes a condition from the outside — it drains a lock's battery,
freezes it, pulls a gateway's cable — and a test then asserts what the harness
observed. A device model declares each such condition once, as a class
attribute, with its type, what values it takes and what it means::

    class VirtualLock:
        battery = BenchSetting[int](int, "Battery percentage.", valid=range(101))
        frozen = BenchSetting[bool](bool, "Frozen locks refuse …", default=False)

The declaration *is* the attribute: the model reads and assigns
``self.battery`` as usual, and every assignment (by the model, a test or a
bench) is checked against the declaration. :func:`bench_settings` lists what a
device declares, so :class:`~ttlock_hil.harness.sim.bench.VirtualBench` can
set, list and restore the settings of any model without knowing its names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Generic, TypeVar, cast, overload

__all__ = ["BenchSetting", "BenchSettingError", "bench_settings"]

V = TypeVar("V")


class BenchSettingError(ValueError):
    """A bench setting the device does not have, or a value the setting cannot take."""


class _Unset:
    """The marker of a setting declared without a default."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Final = _Unset()


class BenchSetting(Generic[V]):
    """One physical condition of a device model (a data descriptor; see the module docstring).

    ``types``: the accepted value types (``(str, type(None))`` for an optional
    string; a ``bool`` is never an ``int`` here). ``valid``: the accepted ints
    (a ``range``), or a predicate with ``expect`` saying in words what it accepts.
    ``default``: the value before the model first assigns one. ``secret``: the
    value is never shown in errors (a keypad code).
    """

    def __init__(
        self,
        types: type | tuple[type, ...],
        doc: str,
        *,
        default: V | _Unset = _UNSET,
        valid: range | Callable[[V], bool] | None = None,
        expect: str | None = None,
        secret: bool = False,
    ) -> None:
        self.types: tuple[type, ...] = types if isinstance(types, tuple) else (types,)
        self.doc = doc
        self.__doc__ = doc
        self.secret = secret
        self._default = default
        self._valid = valid
        self._expect = expect
        self.name = ""
        self._owner = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self._owner = owner.__name__

    def __repr__(self) -> str:
        return f"BenchSetting({self._owner}.{self.name}: {self.type_name})"

    @property
    def type_name(self) -> str:
        """The accepted types in words: ``int``, ``str | None``."""
        return " | ".join("None" if t is type(None) else t.__name__ for t in self.types)

    @property
    def expects(self) -> str:
        """What the setting accepts, in words (for errors and listings)."""
        if self._expect is not None:
            return self._expect
        if isinstance(self._valid, range):
            return f"an int in {self._valid.start}..{self._valid.stop - 1}"
        return f"a {self.type_name}"

    @property
    def _storage(self) -> str:
        if not self.name:
            raise TypeError("a BenchSetting is declared as a class attribute (it has no name)")
        return self.name

    # --- the descriptor ----------------------------------------------------------------

    @overload
    def __get__(self, instance: None, owner: type) -> BenchSetting[V]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> V: ...

    def __get__(self, instance: object | None, owner: type) -> BenchSetting[V] | V:
        if instance is None:
            return self
        return self.get(instance)

    def __set__(self, instance: object, value: V) -> None:
        self.set(instance, value)

    # --- the bench's view ----------------------------------------------------------------

    def get(self, device: object) -> V:
        """The current value on ``device``."""
        found = vars(device).get(self._storage, self._default)
        if isinstance(found, _Unset):
            raise AttributeError(f"{type(device).__name__}.{self.name} was never set")
        return cast(V, found)

    def set(self, device: object, value: object) -> None:
        """Assign ``value`` on ``device`` after :meth:`check`."""
        vars(device)[self._storage] = self.check(value, device)

    def check(self, value: object, device: object | None = None) -> V:
        """``value`` if the setting takes it; :class:`BenchSettingError` says what it takes.

        The error names the setting as ``<device class>.<name>`` (``VirtualLock.battery``).
        """
        typed = isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types
        )
        if typed:
            valid = self._valid
            if valid is None:
                return cast(V, value)
            if isinstance(valid, range):
                if isinstance(value, int) and value in valid:
                    return cast(V, value)
            elif valid(cast(V, value)):
                return cast(V, value)
        owner = self._owner if device is None else type(device).__name__
        shown = "(value not shown: it is a secret)" if self.secret else f"got {value!r}"
        raise BenchSettingError(f"{owner}.{self.name} must be {self.expects}, {shown}")


def bench_settings(device: object) -> Mapping[str, BenchSetting[Any]]:
    """The bench settings ``device``'s model declares, by name, in declaration order.

    Empty for a model that declares none (any
    :class:`~ttlock_hil.harness.sim.device.VirtualDevice` may be on a bench).
    """
    found: dict[str, BenchSetting[Any]] = {}
    for cls in reversed(type(device).__mro__):
        for name, attribute in vars(cls).items():
            if isinstance(attribute, BenchSetting):
                found[name] = attribute
    return MappingProxyType(found)

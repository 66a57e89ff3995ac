"""The lab configuration (``hil-config.yaml``): what devices a bench has and how to reach them.

``load_config(path)`` reads and validates the file and returns a frozen
:class:`LabConfig`. Any problem — YAML syntax, a wrong type, an unknown key, an
inline secret — becomes *one* :class:`~ttlock_hil.harness.errors.ConfigError` naming the
file, the line, the field and the fix::

    hil-config.yaml:14: devices[1].adress: unknown key — fix: did you mean 'address'?

The committed ``hil-config.yaml`` is the embedded default (a lab of virtual
devices, so everything runs on a fresh machine); ``docs/bench-example.yaml``
shows a real bench. Relative paths (``reports``, ``history``,
``credentials_dir``, ``file:`` credentials) are resolved against the directory
of the config file, so a config works from any working directory.

Addresses are either a BLE address (``C1:23:45:67:89:AB``; a CoreBluetooth
UUID on macOS) or ``sim:<preset>`` for a virtual device. Only the transport
resolver should look at :attr:`DeviceConfig.is_virtual` /
:attr:`DeviceConfig.sim_preset`: the rest of the harness must not care
(docs/architecture.md §11.4, "no ``if simulated:``").
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ttlock_hil.protocol.codes import DEFAULT_PLUGIN_VERSION, PluginVersion, PluginVersionError
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errormap import GATEWAY_CODES_SINCE, gateway_codes_missing

from .config_yaml import config_error, did_you_mean, read_yaml_document
from .credentials import CredentialRef, CredentialStore, LockCredentials, load_credentials
from .errors import NEVER_RETRIED, TRANSIENT_ERRORS, ConfigError, TTLockError

__all__ = [
    "KNOWN_MODELS",
    "NO_DEVICE_NAME",
    "Adapter",
    "ConfigProblems",
    "DeviceConfig",
    "DeviceKind",
    "Feature",
    "LabConfig",
    "RetryPolicy",
    "Timeouts",
    "default_config_path",
    "load_config",
    "packaged_config_path",
]

_SLUG: Final = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")

NO_DEVICE_NAME: Final = "no-device"
"""Not a device name: the pytest plugin's parameter for a test no configured device matches
(``fixtures/selection.py``); a device of that name would have every test skipped."""
_LAB_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_BLE_ADDRESS: Final = re.compile(r"[0-9A-F]{2}([:-][0-9A-F]{2}){5}\Z", re.IGNORECASE)
_CB_UUID: Final = re.compile(
    r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\Z", re.IGNORECASE
)
SIM_SCHEME: Final = "sim:"
_EXAMPLE_FILE: Final = "docs/bench-example.yaml"
KNOWN_MODELS: Final = (
    "v3-keypad",
    "v3-fingerprint-ic",
    "v3-padlock",
    "v3-wifi",
    "v3-hotel",
    "v3-nb",
    "g2",
    "g3",
    "g4",
)
"""The TTLock models ttlock-hil knows: what ``model:`` keys in the expectation table and
``hil_model(...)``, and exactly the simulator's presets (a test keeps the three in step).

A ``sim:`` device *is* one of them, so its ``model:`` must name the preset it runs: a typo
(``v3-keypd``) would silently take the expectation table's default rows and fail the
firmware for nothing. A radio device is not checked against the list: a real bench may
hold models the simulator lacks, and their tests use the table's ``"*"`` rows."""
_VARIANT_SEPARATOR: Final = "_"  # sim:<preset>_<variant> (harness.sim.presets, not imported)
MAX_SECONDS: Final = 3600.0
"""The longest deadline a config may set (scan, connect, command)."""
MAX_BACKOFF: Final = 300.0
"""The longest wait between two connection attempts."""


class Feature(StrEnum):
    """What a bench can exercise on a device (``features:``; matched by capability markers)."""

    # locks
    PASSCODE = "passcode"  # keypad passcodes via BLE (add/modify/delete/list)
    KEYPAD = "keypad"  # the lock has a keypad (wake by touch, admin keyboard password)
    IC_CARD = "ic_card"  # IC cards
    FINGERPRINT = "fingerprint"  # fingerprints
    AUTO_LOCK = "auto_lock"  # auto-lock time
    AUDIO = "audio"  # sound on/off, volume
    REMOTE_UNLOCK = "remote_unlock"  # remote-unlock switch
    PASSAGE_MODE = "passage_mode"  # passage mode schedules
    OPERATION_LOG = "operation_log"  # reading the operation log
    SHOW_PASSWORD = "show_password"  # passcode display switch
    ADMIN_CODE = "admin_code"  # reading the admin passcode
    FREEZE = "freeze"  # freeze/unfreeze
    DOOR_SENSOR = "door_sensor"  # door sensor accessory
    WIFI = "wifi"  # Wi-Fi lock network configuration
    RESET = "reset"  # the bench may factory-reset the lock (destructive tests)
    # gateways
    GATEWAY_WIFI = "gateway_wifi"  # G2: configure Wi-Fi
    GATEWAY_ETHERNET = "gateway_ethernet"  # G3: wired, static IP
    GATEWAY_CELLULAR = "gateway_cellular"  # G4: 4G, APN
    # the bench itself
    BENCH_POWER = "bench_power"  # the bench can power-cycle the device


_FEATURE_VALUES: Final = frozenset(f.value for f in Feature)
GATEWAY_FEATURES: Final = frozenset(
    {Feature.GATEWAY_WIFI, Feature.GATEWAY_ETHERNET, Feature.GATEWAY_CELLULAR}
)
BENCH_FEATURES: Final = frozenset({Feature.BENCH_POWER})
LOCK_FEATURES: Final = frozenset(Feature) - GATEWAY_FEATURES - BENCH_FEATURES


def _invalid(reason: str, fix: str, *at: str | int) -> PydanticCustomError:
    """A validation error that keeps its fix (and, optionally, a deeper location)."""
    return PydanticCustomError("hil_config", "{reason}", {"reason": reason, "fix": fix, "at": at})


def _parse_plugin_version(value: object) -> PluginVersion:
    if isinstance(value, PluginVersion):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _invalid(
            f"{value!r} was read as a number",
            f'quote it: plugin_version: "{DEFAULT_PLUGIN_VERSION}"',
        )
    if not isinstance(value, str):
        raise _invalid("must be a string", f'write it like "{DEFAULT_PLUGIN_VERSION}"')
    try:
        return PluginVersion.parse(value)
    except PluginVersionError as exc:
        raise _invalid(str(exc), f'write it like "{DEFAULT_PLUGIN_VERSION}"') from None


PluginVersionField = Annotated[
    PluginVersion,
    PlainValidator(_parse_plugin_version),
    PlainSerializer(str, return_type=str),
]


def _parse_credentials(value: object) -> CredentialRef | None:
    fix = (
        "use env:VARNAME (the variable holds the credentials JSON) or "
        "file:credentials/<device>.json (relative to this file); omit it to let init() "
        "create and store them"
    )
    if value is None or isinstance(value, CredentialRef):
        return value
    if isinstance(value, Mapping | list):
        raise _invalid("inline secrets are not allowed", fix)
    if not isinstance(value, str):
        raise _invalid("inline secrets are not allowed", fix)
    try:
        return CredentialRef.parse(value)
    except ConfigError as exc:
        raise _invalid(exc.message, exc.fix or fix) from None


CredentialsField = Annotated[
    CredentialRef | None,
    PlainValidator(_parse_credentials),
    PlainSerializer(lambda ref: None if ref is None else str(ref), return_type=str | None),
]


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    if path is None:
        return None
    path = path.expanduser()
    context = info.context or {}
    base = context.get("base_dir")
    if not path.is_absolute() and base is not None:
        return Path(base) / path
    return path


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Adapter(_Model):
    """A Bluetooth adapter of the bench (radio tier only)."""

    name: str = Field(examples=["hci0"], min_length=1)
    mac: str | None = Field(default=None, examples=["00:1A:7D:DA:71:13"])

    @field_validator("mac")
    @classmethod
    def _check_mac(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _BLE_ADDRESS.match(value.strip()):
            raise _invalid(f"{value!r} is not a MAC address", "write it like 00:1A:7D:DA:71:13")
        return value.strip().upper().replace("-", ":")


class Timeouts(_Model):
    """Deadlines in seconds: scan for a device, connect, one command's reply."""

    # Finite and at most an hour: .inf or 1e300 would turn a lost device into a hung night.
    scan: float = Field(default=10.0, gt=0, le=MAX_SECONDS, allow_inf_nan=False, examples=[10.0])
    connect: float = Field(default=10.0, gt=0, le=MAX_SECONDS, allow_inf_nan=False, examples=[10.0])
    command: float = Field(default=6.0, gt=0, le=MAX_SECONDS, allow_inf_nan=False, examples=[6.0])


class RetryPolicy(_Model):
    """Which link errors are retried, how often, and how long to wait in between.

    This is the connect budget: ``attempts`` counts every try at establishing a link
    (3 = the first and two retries) and ``budget`` bounds them all in seconds; before
    retry ``n`` (0-based) the link waits ``backoff[n]`` seconds (the last value
    repeats). Only errors named in ``retry_on`` are retried, and only transient ones
    may be named (:data:`ttlock_hil.harness.errors.TRANSIENT_ERRORS`), a connect
    timeout and an empty scan among them. A command is never retried.
    """

    attempts: int = Field(default=3, ge=1, le=10, strict=True, examples=[3])  # not `true`
    backoff: tuple[Annotated[float, Field(allow_inf_nan=False)], ...] = Field(
        default=(0.75, 1.5, 3.0), examples=[[0.75, 1.5, 3.0]]
    )
    retry_on: tuple[str, ...] = Field(
        default=(
            "Disconnected",
            "NotifyFailed",
            "ServiceMissing",
            "CharacteristicMissing",
            "ConnectTimeout",
            "DeviceNotFound",
        ),
        examples=[["Disconnected", "ConnectTimeout"]],
    )
    budget: float = Field(default=60.0, gt=0, le=MAX_SECONDS, allow_inf_nan=False, examples=[60.0])

    @field_validator("backoff")
    @classmethod
    def _check_backoff(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value:
            raise _invalid("must list at least one delay", "write it like [0.75, 1.5, 3.0]")
        for index, delay in enumerate(value):
            if not 0 <= delay <= MAX_BACKOFF:
                raise _invalid(
                    f"a delay must be 0..{MAX_BACKOFF:g} seconds, got {delay:g}",
                    "use a few seconds at most, e.g. [0.75, 1.5, 3.0]",
                    index,
                )
        return value

    @field_validator("retry_on")
    @classmethod
    def _check_retry_on(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        allowed = ", ".join(TRANSIENT_ERRORS)
        for index, name in enumerate(value):
            if name in TRANSIENT_ERRORS:
                continue
            if name in NEVER_RETRIED:
                raise _invalid(
                    f"{name} cannot be retried: {NEVER_RETRIED[name]}",
                    f"remove it; retryable errors: {allowed}",
                    index,
                )
            raise _invalid(f"unknown error {name!r}", did_you_mean(name, TRANSIENT_ERRORS), index)
        return value

    @property
    def error_types(self) -> tuple[type[TTLockError], ...]:
        """The exception classes ``retry_on`` names."""
        return tuple(TRANSIENT_ERRORS[name] for name in self.retry_on)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 = the first retry)."""
        return self.backoff[min(max(retry, 0), len(self.backoff) - 1)]

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """True when ``error`` ended try number ``attempt`` (1-based) and another is allowed."""
        return attempt < self.attempts and isinstance(error, self.error_types)


class DeviceConfig(_Model):
    """One device of the bench."""

    name: str = Field(examples=["front-door"])
    kind: DeviceKind = Field(examples=["lock"])
    model: str = Field(examples=["v3-keypad"])
    address: str = Field(examples=["C1:23:45:67:89:AB"])
    credentials: CredentialsField = None
    features: tuple[Feature, ...] = ()
    expected_firmware: str | None = Field(default=None, examples=["6.1.22.210101"])
    plugin_version: PluginVersionField | None = None
    adapter: str | None = Field(default=None, examples=["hci0"])

    @field_validator("name", "model")
    @classmethod
    def _check_slug(cls, value: str, info: ValidationInfo) -> str:
        if not _SLUG.match(value):
            raise _invalid(
                f"{value!r} is not a valid {info.field_name}",
                "use lower-case letters, digits, '-' and '_' (e.g. front-door)",
            )
        if info.field_name == "name" and value == NO_DEVICE_NAME:
            raise _invalid(
                f"{value!r} is reserved: the pytest plugin marks a test no device matches with it",
                "choose another name (e.g. spare-door)",
            )
        return value

    @field_validator("address", mode="before")
    @classmethod
    def _check_address(cls, value: object) -> str:
        fix = (
            "use a BLE address such as C1:23:45:67:89:AB, a CoreBluetooth UUID (macOS), "
            "or sim:<preset> for a virtual device"
        )
        if not isinstance(value, str):
            raise _invalid(f"must be a string, got {type(value).__name__}", fix)
        text = value.strip()
        if text.startswith(SIM_SCHEME):
            preset = text[len(SIM_SCHEME) :]
            if not _SLUG.match(preset):
                raise _invalid(f"{preset!r} is not a preset name", "write it like sim:v3-keypad")
            return text
        if _BLE_ADDRESS.match(text):
            return text.upper().replace("-", ":")
        if _CB_UUID.match(text):
            return text.upper()
        raise _invalid(f"{text!r} is not a device address", fix)

    @field_validator("features", mode="before")
    @classmethod
    def _check_features(cls, value: object) -> object:
        if not isinstance(value, list | tuple):
            return value  # pydantic reports the type
        seen: set[str] = set()
        for index, item in enumerate(value):
            if not isinstance(item, str) or item not in _FEATURE_VALUES:
                raise _invalid(
                    f"unknown feature {item!r}",
                    did_you_mean(str(item), (f.value for f in Feature)),
                    index,
                )
            if item in seen:
                raise _invalid(f"feature {item!r} is listed twice", "remove the duplicate", index)
            seen.add(item)
        return value

    @model_validator(mode="after")
    def _check_model_of_a_simulated_device(self) -> DeviceConfig:
        preset = (self.sim_preset or "").partition(_VARIANT_SEPARATOR)[0]
        if preset not in KNOWN_MODELS or self.model == preset:
            return self  # a radio device, or a preset the simulator will judge itself
        if self.model not in KNOWN_MODELS:
            raise _invalid(
                f"unknown model {self.model!r}",
                f"{did_you_mean(self.model, KNOWN_MODELS)} (a sim: device is the model of "
                f"its preset: model: {preset})",
                "model",
            )
        raise _invalid(
            f"model {self.model!r} but the simulated device is a {preset} ({self.address})",
            f"write model: {preset}, or choose a sim:{self.model} device",
            "model",
        )

    @model_validator(mode="after")
    def _check_features_fit_kind(self) -> DeviceConfig:
        wrong = GATEWAY_FEATURES if self.kind is DeviceKind.LOCK else LOCK_FEATURES
        for index, feature in enumerate(self.features):
            if feature in wrong:
                fitting = sorted(f.value for f in Feature if f not in wrong)
                raise _invalid(
                    f"{feature.value!r} is not a {self.kind.value} feature",
                    f"use {self.kind.value} features: {', '.join(fitting)}",
                    "features",
                    index,
                )
        return self

    @property
    def is_virtual(self) -> bool:
        """True for ``sim:`` addresses. For the transport resolver only."""
        return self.address.startswith(SIM_SCHEME)

    @property
    def sim_preset(self) -> str | None:
        """The preset of a ``sim:`` address (``v3-keypad``). For the transport resolver only."""
        return self.address[len(SIM_SCHEME) :] if self.is_virtual else None

    def has(self, *features: Feature | str) -> bool:
        """True when the bench can exercise every one of ``features`` on this device."""
        return all(Feature(f) in self.features for f in features)


class LabConfig(_Model):
    """A validated ``hil-config.yaml``. Frozen; build it with :func:`load_config`."""

    lab: str = Field(examples=["bench-01"])
    plugin_version: PluginVersionField = Field(
        default_factory=lambda: PluginVersion.parse(DEFAULT_PLUGIN_VERSION)
    )
    adapters: tuple[Adapter, ...] = ()
    devices: tuple[DeviceConfig, ...] = ()
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    reports: Path = Field(default=Path("reports"), examples=["reports/"], validate_default=True)
    history: Path | None = Field(default=None, examples=["reports/history.sqlite"])
    credentials_dir: Path = Field(
        default=Path("credentials"), examples=["credentials/"], validate_default=True
    )
    redact: bool = True

    _source: Path | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, Mapping):
            source = context.get("source")
            base = context.get("base_dir")
            self._source = Path(source) if source is not None else None
            self._base_dir = Path(base) if base is not None else None
            self._lines = dict(context.get("lines", {}))

    @field_validator("lab")
    @classmethod
    def _check_lab(cls, value: str) -> str:
        if not _LAB_NAME.match(value):
            raise _invalid(f"{value!r} is not a lab name", "use letters, digits, '.', '-', '_'")
        return value

    @field_validator("reports", "history", "credentials_dir")
    @classmethod
    def _resolve_paths(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)

    @field_validator("adapters")
    @classmethod
    def _unique_adapters(cls, value: tuple[Adapter, ...]) -> tuple[Adapter, ...]:
        seen: set[str] = set()
        for index, adapter in enumerate(value):
            if adapter.name in seen:
                raise _invalid(
                    f"adapter {adapter.name!r} is listed twice",
                    "give each adapter one entry",
                    index,
                    "name",
                )
            seen.add(adapter.name)
        return value

    @field_validator("devices")
    @classmethod
    def _unique_devices(cls, value: tuple[DeviceConfig, ...]) -> tuple[DeviceConfig, ...]:
        seen: dict[str, int] = {}
        for index, device in enumerate(value):
            if device.name in seen:
                raise _invalid(
                    f"device name {device.name!r} is already used by devices[{seen[device.name]}]",
                    "give every device a unique name",
                    index,
                    "name",
                )
            seen[device.name] = index
        return value

    @model_validator(mode="after")
    def _check_adapter_references(self) -> LabConfig:
        names = {a.name for a in self.adapters}
        for index, device in enumerate(self.devices):
            if device.adapter is not None and device.adapter not in names:
                fix = (
                    did_you_mean(device.adapter, names)
                    if names
                    else f"add it under adapters: (- name: {device.adapter})"
                )
                raise _invalid(
                    f"adapter {device.adapter!r} is not listed under adapters:",
                    fix,
                    "devices",
                    index,
                    "adapter",
                )
        return self

    @model_validator(mode="after")
    def _check_gateways_have_codes(self) -> LabConfig:
        # A plugin before 2.6.0 has no code for any gateway answer: a night there would
        # have nothing true to assert (docs/protocol.md §5.2), so say it now.
        fix = f'set plugin_version: "{GATEWAY_CODES_SINCE}" or newer for this gateway'
        for index, device in enumerate(self.devices):
            if device.kind is not DeviceKind.GATEWAY:
                continue
            if device.plugin_version is not None:
                missing = gateway_codes_missing(device.plugin_version)
                if missing is not None:
                    raise _invalid(missing, fix, "devices", index, "plugin_version")
            else:
                missing = gateway_codes_missing(self.plugin_version)
                if missing is not None:
                    raise _invalid(
                        missing.replace("(they", f"(gateway {device.name} needs them; they"),
                        fix + " (a device's own plugin_version: overrides the lab's)",
                        "plugin_version",
                    )
        return self

    # --- where it came from -----------------------------------------------------

    @property
    def source(self) -> Path | None:
        """The file this config was loaded from (``None`` if built in code)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The directory relative paths are resolved against."""
        if self._base_dir is not None:
            return self._base_dir
        return Path.cwd()

    def line_of(self, field: str) -> int | None:
        """The line (1-based) of a field such as ``devices[0].credentials``, if known."""
        return self._lines.get(field)

    # --- devices ----------------------------------------------------------------

    def device(self, name: str) -> DeviceConfig:
        """The device called ``name``; ConfigError with a suggestion otherwise."""
        for device in self.devices:
            if device.name == name:
                return device
        names = [d.name for d in self.devices]
        raise ConfigError(
            f"no device named {name!r}",
            file=self._source,
            field="devices",
            fix=did_you_mean(name, names) if names else "add it under devices:",
        )

    def devices_of(
        self, kind: DeviceKind | str | None = None, *features: Feature | str
    ) -> tuple[DeviceConfig, ...]:
        """Devices of ``kind`` (any when ``None``) that have every one of ``features``."""
        wanted = DeviceKind(kind) if kind is not None else None
        return tuple(
            d for d in self.devices if (wanted is None or d.kind is wanted) and d.has(*features)
        )

    def plugin_version_for(self, device: DeviceConfig | str) -> PluginVersion:
        """The plugin version whose codes this device's results are asserted against."""
        if isinstance(device, str):
            device = self.device(device)
        return device.plugin_version if device.plugin_version is not None else self.plugin_version

    # --- credentials ------------------------------------------------------------

    def credential_store(self) -> CredentialStore:
        """Where the harness keeps credentials of devices configured without ``credentials:``."""
        return CredentialStore(self.credentials_dir)

    def credentials_path_for(self, device: DeviceConfig | str) -> Path:
        """Where ``init()`` persists new credentials of this device.

        The referenced file for ``file:`` credentials; the credential store for
        devices without ``credentials:`` and for ``env:`` ones (an environment
        variable cannot be written: copy the stored file into your secret store).
        """
        if isinstance(device, str):
            device = self.device(device)
        ref = device.credentials
        if ref is not None and ref.scheme == "file":
            return ref.path(self.base_dir)
        return self.credential_store().path(device.name)

    def credentials_for(
        self, device: DeviceConfig | str, *, environ: Mapping[str, str] | None = None
    ) -> LockCredentials | None:
        """The device's credentials, or ``None`` for a device that has none yet.

        ``env:``/``file:`` references must resolve (ConfigError otherwise, located at
        the ``credentials:`` line); without a reference the credential store is
        consulted, and an empty store means a factory-fresh device (``None``).
        """
        if isinstance(device, str):
            device = self.device(device)
        ref = device.credentials
        if ref is None:
            store = self.credential_store()
            return store.load(device.name) if store.exists(device.name) else None
        try:
            return load_credentials(ref, self.base_dir, environ=environ)
        except ConfigError as exc:
            index = self.devices.index(device)
            field = f"devices[{index}].credentials"
            line = self.line_of(field)
            if exc.file is None:
                raise exc.located(file=self._source, line=line, field=field) from None
            # A problem inside a credentials file: name that file and what in it, and
            # the config line that points at it (so both ends can be found).
            inner = f"{exc.file}" + (f" ({exc.field})" if exc.field else "")
            raise ConfigError(
                f"{inner}: {exc.message}",
                file=self._source,
                line=line,
                field=field,
                fix=exc.fix,
            ) from None


# --- loading --------------------------------------------------------------------

_PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
_PACKAGED_NAME: Final = "default-hil-config.yaml"


def packaged_config_path() -> Path:
    """The copy of the default config shipped inside the package (``harness/data``)."""
    return Path(str(resources.files("ttlock_hil.harness").joinpath("data", _PACKAGED_NAME)))


def default_config_path() -> Path:
    """The repository's ``hil-config.yaml`` when running from a checkout, else the packaged copy."""
    candidate = _PROJECT_ROOT / "hil-config.yaml"
    if candidate.is_file() and (_PROJECT_ROOT / "pyproject.toml").is_file():
        return candidate
    return packaged_config_path()


def load_config(path: str | os.PathLike[str] | None = None) -> LabConfig:
    """Read and validate a lab config; ``None`` loads :func:`default_config_path`.

    Relative paths inside resolve against the file's directory — except for
    the packaged default, whose relative paths resolve against the working
    directory (its own directory is inside the installed package).
    """
    file = Path(path) if path is not None else default_config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "config file not found",
            file=file,
            fix=f"pass --config with an existing file, or copy {_EXAMPLE_FILE} there",
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            "is a directory, not a config file", file=file, fix="name the YAML file itself"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the config file ({exc})", file=file, fix="check its permissions/encoding"
        ) from None
    base_dir = Path.cwd() if _same_file(file, packaged_config_path()) else file.resolve().parent
    return parse_config(text, file=file, base_dir=base_dir)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def parse_config(
    text: str, *, file: Path | str = "<string>", base_dir: Path | None = None
) -> LabConfig:
    """Validate YAML text as a lab config (``file`` only names it in messages)."""
    file = Path(file)
    document = read_yaml_document(text, file=file, example=_EXAMPLE_FILE)
    try:
        return LabConfig.model_validate(
            document.data,
            context={"source": file, "base_dir": base_dir, "lines": document.lines},
        )
    except ValidationError as exc:
        first = config_error(exc, document.root, file, LabConfig, example=_EXAMPLE_FILE)
        errors = _unexplained(exc.errors(include_url=False))
        if len(errors) == 1:
            if exc.error_count() > 1:  # the others were the typo's consequences: one problem
                first = ConfigError(
                    first.message.rsplit(" (+", 1)[0],
                    file=first.file,
                    line=first.line,
                    field=first.field,
                    fix=first.fix,
                )
            raise first from None
        # Every problem rendered alone, as config_error renders the first: file, line, fix.
        each = [
            config_error(
                cast(ValidationError, _OneProblem(error)),
                document.root,
                file,
                LabConfig,
                example=_EXAMPLE_FILE,
            )
            for error in errors
        ]
        shown = (first.line, first.field, first.message.rsplit(" (+", 1)[0])
        rest = sorted(
            (e for e in each if (e.line, e.field, e.message) != shown), key=lambda e: e.line or 0
        )
        rest = rest[: len(errors) - 1]
        more = f" (+{len(rest)} more problem{'s' if len(rest) > 1 else ''})"
        first = ConfigError(
            shown[2] + more, file=first.file, line=first.line, field=first.field, fix=first.fix
        )
        raise ConfigProblems(first, rest) from None


def _unexplained(errors: list[Any]) -> list[Any]:
    """The problems without the "required key missing" that a mistyped key next to it
    explains (``adress:`` and no ``address:`` is one typo, not two problems)."""
    typos: dict[tuple[Any, ...], list[str]] = {}
    for error in errors:
        if error["type"] == "extra_forbidden":
            typos.setdefault(tuple(error["loc"][:-1]), []).append(str(error["loc"][-1]))
    kept = []
    for error in errors:
        loc = tuple(error["loc"])
        near = typos.get(loc[:-1], [])
        if error["type"] == "missing" and difflib.get_close_matches(str(loc[-1]), near, n=1):
            continue
        kept.append(error)
    return kept


class _OneProblem:
    """One error of a ValidationError, looking like one to ``config_error`` (it reads only
    ``errors()``), so each problem gets the same file, line, field and fix as the first."""

    def __init__(self, error: Any) -> None:
        self._error = error

    def errors(self, *, include_url: bool = True) -> list[Any]:
        return [self._error]


class ConfigProblems(ConfigError):
    """A config with several problems: the first (``… (+N more problems) — fix: …``), then
    every other one with its own file, line, field and fix — still one line, as every config
    error is (``… | also lab.yaml:9: devices[1].kind: … — fix: …``), so one edit fixes all.

    ``problems`` are the other problems, each a :class:`ConfigError`.
    """

    def __init__(self, first: ConfigError, problems: list[ConfigError]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            first.message, file=first.file, line=first.line, field=first.field, fix=first.fix
        )

    def __str__(self) -> str:
        return " | ".join([self._render(), *(f"also {problem}" for problem in self.problems)])

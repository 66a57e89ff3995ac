"""harness.config: the lab config, validated, with one precise message per broken file."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from ttlock_hil.harness.config import (
    DeviceConfig,
    DeviceKind,
    Feature,
    LabConfig,
    RetryPolicy,
    default_config_path,
    load_config,
    packaged_config_path,
    parse_config,
)
from ttlock_hil.harness.config_yaml import did_you_mean
from ttlock_hil.harness.credentials import CredentialRef, CredentialStore, LockCredentials
from ttlock_hil.harness.errors import (
    ConfigError,
    ConnectTimeout,
    DeviceNotFound,
    Disconnected,
    ReplyCrcError,
    ResponseTimeout,
)
from ttlock_hil.protocol.codes import PluginVersion

REPO = Path(__file__).resolve().parents[3]
CREDS = LockCredentials(aes_key=bytes(range(16)), admin_ps=31337, unlock_key=4242424)

MINIMAL_DEVICE = "  - {name: fd, kind: lock, model: v3-keypad, address: 'sim:v3-keypad'}\n"


def write(tmp_path: Path, text: str, name: str = "hil-config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- the shipped files ----------------------------------------------------------------


def test_the_default_config_is_a_virtual_lab_of_two_lock_models_and_a_gateway() -> None:
    config = load_config()
    assert config.source == REPO / "hil-config.yaml"
    assert config.lab == "virtual-lab"
    assert config.plugin_version == PluginVersion(3, 1, 0)
    assert config.redact is True
    locks = config.devices_of(DeviceKind.LOCK)
    gateways = config.devices_of(DeviceKind.GATEWAY)
    assert len({d.model for d in locks}) >= 2
    assert gateways
    assert all(d.is_virtual for d in config.devices)
    assert all(d.credentials is None for d in config.devices)
    assert {d.name for d in config.devices} >= {"front-door", "back-door", "gw-g2", "gw-g4"}


def test_the_default_path_is_the_repository_file() -> None:
    assert default_config_path() == REPO / "hil-config.yaml"


def test_the_packaged_copy_is_identical_to_the_repository_file() -> None:
    assert packaged_config_path().read_bytes() == (REPO / "hil-config.yaml").read_bytes()


def test_the_packaged_copy_resolves_relative_paths_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(packaged_config_path())
    assert config.reports == tmp_path / "reports"
    assert config.credentials_dir == tmp_path / "credentials"


def test_the_bench_example_describes_real_hardware_without_inline_secrets() -> None:
    path = REPO / "docs" / "bench-example.yaml"
    config = load_config(path)
    assert config.devices_of(DeviceKind.LOCK)
    assert config.devices_of(DeviceKind.GATEWAY)
    assert not any(d.is_virtual for d in config.devices)
    schemes = {d.credentials.scheme for d in config.devices if d.credentials is not None}
    assert schemes == {"env", "file"}
    assert config.adapters
    text = path.read_text("utf-8")
    assert not re.search(r"\b[0-9a-fA-F]{32}\b", text)  # no AES key pasted in


# --- device fields ------------------------------------------------------------------------


def lab(devices: str = MINIMAL_DEVICE, extra: str = "") -> LabConfig:
    return parse_config(f"lab: t\n{extra}devices:\n{devices}", base_dir=Path("/lab"))


def test_sim_addresses_are_virtual_with_a_preset() -> None:
    device = lab().device("fd")
    assert device.is_virtual
    assert device.sim_preset == "v3-keypad"


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("c1:23:45:67:89:ab", "C1:23:45:67:89:AB"),
        ("C1-23-45-67-89-AB", "C1:23:45:67:89:AB"),
        ("6f1c2a3b-1d2e-4f50-8a9b-0c1d2e3f4a5b", "6F1C2A3B-1D2E-4F50-8A9B-0C1D2E3F4A5B"),
    ],
)
def test_radio_addresses_are_normalised_and_not_virtual(address: str, normalised: str) -> None:
    device = lab(f"  - {{name: fd, kind: lock, model: m, address: '{address}'}}\n").devices[0]
    assert device.address == normalised
    assert not device.is_virtual
    assert device.sim_preset is None


def test_features_are_typed_and_queryable() -> None:
    device = lab(
        "  - {name: fd, kind: lock, model: m, address: 'sim:m', features: [passcode, ic_card]}\n"
    ).devices[0]
    assert device.features == (Feature.PASSCODE, Feature.IC_CARD)
    assert device.has("passcode")
    assert device.has(Feature.PASSCODE, Feature.IC_CARD)
    assert not device.has(Feature.FINGERPRINT)


def test_devices_can_be_selected_by_kind_and_feature() -> None:
    config = load_config()
    with_cards = config.devices_of("lock", Feature.IC_CARD)
    assert with_cards
    assert all(d.kind is DeviceKind.LOCK and d.has("ic_card") for d in with_cards)
    assert config.devices_of(None) == config.devices


def test_a_device_may_override_the_plugin_version() -> None:
    config = lab(
        "  - {name: old, kind: lock, model: m, address: 'sim:m', plugin_version: '2.7.0'}\n"
        "  - {name: new, kind: lock, model: m, address: 'sim:m'}\n",
        extra='plugin_version: "3.0.4"\n',
    )
    assert config.plugin_version_for("old") == PluginVersion(2, 7, 0)
    assert config.plugin_version_for(config.device("new")) == PluginVersion(3, 0, 4)


def test_the_plugins_no_device_parameter_is_not_a_device_name() -> None:
    # A device called "no-device" would be taken for "no device matches": every test skipped.
    text = textwrap.dedent(
        """
        lab: bench
        devices:
          - {name: no-device, kind: lock, model: v3-keypad, address: "sim:v3-keypad"}
        """
    )
    with pytest.raises(ConfigError, match="'no-device' is reserved") as raised:
        parse_config(text)
    assert "choose another name" in str(raised.value)


def test_unknown_device_names_get_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean 'front-door'"):
        load_config().device("front-dor")


def test_the_config_dumps_to_plain_json_values() -> None:
    dumped = lab(
        "  - {name: fd, kind: lock, model: m, address: 'sim:m', credentials: 'env:FD'}\n"
    ).model_dump(mode="json")
    assert dumped["plugin_version"] == "3.1.0"
    assert dumped["devices"][0]["credentials"] == "env:FD"
    assert dumped["devices"][0]["kind"] == "lock"


# --- paths and credentials --------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bench").mkdir()
    path = write(
        tmp_path / "bench",
        "lab: b\nreports: out/\nhistory: hist.sqlite\ncredentials_dir: /abs/creds\n",
    )
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("bench") / "hil-config.yaml")
    assert config.reports == tmp_path / "bench" / "out"
    assert config.history == tmp_path / "bench" / "hist.sqlite"
    assert config.credentials_dir == Path("/abs/creds")
    assert config.base_dir == path.parent


def test_credentials_come_from_env_file_or_the_store(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "bd.json").write_text(CREDS.to_json())
    config = load_config(
        write(
            tmp_path,
            """\
            lab: b
            credentials_dir: store/
            devices:
              - {name: fd, kind: lock, model: m, address: 'sim:m', credentials: 'env:FD_CREDS'}
              - {name: bd, kind: lock, model: m, address: 'sim:m', credentials: 'file:c/bd.json'}
              - {name: pl, kind: lock, model: m, address: 'sim:m'}
            """,
        )
    )
    assert config.devices[0].credentials == CredentialRef("env", "FD_CREDS")
    assert config.credentials_for("fd", environ={"FD_CREDS": CREDS.to_json()}) == CREDS
    assert config.credentials_for("bd") == CREDS
    assert config.credentials_for("pl") is None  # factory-fresh: nothing stored yet
    CredentialStore(tmp_path / "store").save("pl", CREDS)
    assert config.credentials_for("pl") == CREDS


def test_init_persists_to_the_referenced_file_or_the_store(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """\
            lab: b
            devices:
              - {name: fd, kind: lock, model: m, address: 'sim:m', credentials: 'env:FD'}
              - {name: bd, kind: lock, model: m, address: 'sim:m', credentials: 'file:c/bd.json'}
              - {name: pl, kind: lock, model: m, address: 'sim:m'}
            """,
        )
    )
    assert config.credentials_path_for("bd") == tmp_path / "c" / "bd.json"
    assert config.credentials_path_for("fd") == tmp_path / "credentials" / "fd.json"
    assert config.credentials_path_for("pl") == tmp_path / "credentials" / "pl.json"


def test_a_missing_credentials_variable_is_reported_at_its_config_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        lab: b
        devices:
          - name: fd
            kind: lock
            model: m
            address: sim:m
            credentials: env:FD_CREDS
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path).credentials_for("fd", environ={})
    assert str(info.value).startswith(
        f"{path}:7: devices[0].credentials: environment variable FD_CREDS is not set"
    )


# --- retry policy -------------------------------------------------------------------------


def test_retry_defaults_retry_only_transient_link_errors() -> None:
    policy = RetryPolicy()
    assert policy.attempts == 3
    assert policy.backoff == (0.75, 1.5, 3.0)
    err = Disconnected.mapped("3.1.0")
    assert policy.should_retry(err, attempt=1)
    assert policy.should_retry(err, attempt=2)
    assert not policy.should_retry(err, attempt=3)  # three tries in total
    # Establishing a link: a first connect that times out or an empty scan is retried...
    assert policy.should_retry(ConnectTimeout.mapped("3.1.0"), attempt=1)
    assert policy.should_retry(DeviceNotFound.mapped("3.1.0"), attempt=1)
    assert policy.budget == 60.0
    # ... a command never is.
    assert not policy.should_retry(ResponseTimeout.mapped("3.1.0"), attempt=1)
    assert not policy.should_retry(ReplyCrcError.mapped("3.1.0"), attempt=1)
    assert not policy.should_retry(TimeoutError(), attempt=1)


def test_backoff_repeats_its_last_delay() -> None:
    policy = RetryPolicy(attempts=6, backoff=(0.5, 2.0))
    assert [policy.delay(n) for n in range(5)] == [0.5, 2.0, 2.0, 2.0, 2.0]


def test_retry_on_names_the_classes() -> None:
    assert RetryPolicy(retry_on=("Disconnected",)).error_types == (Disconnected,)


# --- broken files: one precise message each -------------------------------------------------


class Expected(NamedTuple):
    line: int
    field: str | None
    message: str
    fix: str


BROKEN = [
    pytest.param(
        """\
        lab: b
        devices:
          - name: fd
            kind: lock
            model: m
            adress: sim:m
        """,
        Expected(6, "devices[0].adress", "unknown key", "did you mean 'address'?"),
        id="unknown-key",
    ),
    pytest.param(
        """\
        lab: b
        devices:
          - name: fd
            kind: lock
            address: sim:m
        """,
        Expected(3, "devices[0].model", "required key missing", "add 'model: v3-keypad'"),
        id="missing-key",
    ),
    pytest.param(
        """\
        lab: b
        devices:
          - name: fd
            kind: lock
            model: m
            address: sim:m
            credentials: 8c2f9a41d07e53b6e9120a7fc4d83b25
        """,
        Expected(7, "devices[0].credentials", "inline secrets are not allowed", "env:VARNAME"),
        id="inline-hex-secret",
    ),
    pytest.param(
        """\
        lab: b
        devices:
          - name: fd
            kind: lock
            model: m
            address: sim:m
            credentials:
              aes_key: 8c2f9a41d07e53b6e9120a7fc4d83b25
              admin_ps: 31337
        """,
        Expected(
            7,
            "devices[0].credentials",
            "inline secrets are not allowed",
            "file:credentials/<device>.json",
        ),
        id="inline-mapping-secret",
    ),
    pytest.param(
        "lab: b\ndevices:\n  - {name: fd, kind: lok, model: m, address: 'sim:m'}\n",
        Expected(3, "devices[0].kind", "'lok' is not one of lock, gateway", "did you mean 'lock'?"),
        id="bad-kind",
    ),
    pytest.param(
        "lab: b\ndevices:\n"
        "  - {name: fd, kind: lock, model: m, address: 'sim:m',\n"
        "     features: [passcode, fingerprnt]}\n",
        Expected(
            4,  # the line of the misspelt item itself
            "devices[0].features[1]",
            "unknown feature 'fingerprnt'",
            "did you mean 'fingerprint'?",
        ),
        id="bad-feature",
    ),
    pytest.param(
        "lab: b\ndevices:\n"
        "  - {name: gw, kind: gateway, model: g2, address: 'sim:g2', features: [ic_card]}\n",
        Expected(3, "devices[0].features[0]", "'ic_card' is not a gateway feature", "gateway_wifi"),
        id="lock-feature-on-gateway",
    ),
    pytest.param(
        "lab: b\ndevices:\n"
        "  - {name: fd, kind: lock, model: m, address: 'sim:m', features: [audio, audio]}\n",
        Expected(3, "devices[0].features[1]", "listed twice", "remove the duplicate"),
        id="duplicate-feature",
    ),
    pytest.param(
        "lab: b\ndevices:\n"
        "  - {name: fd, kind: lock, model: m, address: 'sim:a'}\n"
        "  - {name: fd, kind: lock, model: m, address: 'sim:b'}\n",
        Expected(4, "devices[1].name", "already used by devices[0]", "unique name"),
        id="duplicate-device-name",
    ),
    pytest.param(
        "lab: b\ndevices:\n  - {name: Front Door, kind: lock, model: m, address: 'sim:m'}\n",
        Expected(3, "devices[0].name", "'Front Door' is not a valid name", "lower-case letters"),
        id="name-not-a-slug",
    ),
    pytest.param(
        "lab: b\ndevices:\n  - {name: fd, kind: lock, model: m, address: 'C1:23:45'}\n",
        Expected(3, "devices[0].address", "'C1:23:45' is not a device address", "sim:<preset>"),
        id="bad-address",
    ),
    pytest.param(
        "lab: b\ndevices:\n  - {name: fd, kind: lock, model: m, address: 'sim:V3 Keypad'}\n",
        Expected(3, "devices[0].address", "not a preset name", "sim:v3-keypad"),
        id="bad-preset",
    ),
    pytest.param(
        "lab: b\ndevices:\n  - {name: fd, kind: lock, model: m, address: 'sim:m', adapter: hci9}\n",
        Expected(
            3,
            "devices[0].adapter",
            "adapter 'hci9' is not listed under adapters:",
            "add it under adapters:",
        ),
        id="unlisted-adapter",
    ),
    pytest.param(
        "lab: b\nadapters:\n  - {name: hci0}\ndevices:\n"
        "  - {name: fd, kind: lock, model: m, address: 'sim:m', adapter: hci1}\n",
        Expected(5, "devices[0].adapter", "not listed", "did you mean 'hci0'?"),
        id="misspelt-adapter",
    ),
    pytest.param(
        "lab: b\nadapters:\n  - {name: hci0, mac: '00:1A'}\n",
        Expected(3, "adapters[0].mac", "not a MAC address", "00:1A:7D:DA:71:13"),
        id="bad-adapter-mac",
    ),
    pytest.param(
        "lab: b\nadapters:\n  - {name: hci0}\n  - {name: hci0}\n",
        Expected(4, "adapters[1].name", "listed twice", "one entry"),
        id="duplicate-adapter",
    ),
    pytest.param(
        "lab: b\ntimeouts:\n  scan: fast\n",
        Expected(3, "timeouts.scan", "valid number", "use a number such as 10.0"),
        id="timeout-not-a-number",
    ),
    pytest.param(
        "lab: b\ntimeouts:\n  command: 0\n",
        Expected(3, "timeouts.command", "greater than 0", "use a value above 0"),
        id="timeout-zero",
    ),
    pytest.param(
        "lab: b\nretry:\n  retry_on: [Disconnected, ResponseTimeout]\n",
        Expected(
            3,
            "retry.retry_on[1]",
            "ResponseTimeout cannot be retried: a command is never retried",
            "retryable errors: Disconnected",
        ),
        id="retry-a-timeout",
    ),
    pytest.param(
        "lab: b\nretry:\n  retry_on: [Disconected]\n",
        Expected(
            3, "retry.retry_on[0]", "unknown error 'Disconected'", "did you mean 'Disconnected'?"
        ),
        id="retry-misspelt",
    ),
    pytest.param(
        "lab: b\nretry:\n  backoff: [1.0, -2.0]\n",
        Expected(3, "retry.backoff[1]", "must be 0..300 seconds", "a few seconds at most"),
        id="negative-backoff",
    ),
    pytest.param(
        "lab: b\nretry:\n  attempts: 0\n",
        Expected(3, "retry.attempts", "greater than or equal to 1", "use 1 or more"),
        id="zero-attempts",
    ),
    pytest.param(
        "lab: b\nplugin_version: 3.1\n",
        Expected(2, "plugin_version", "read as a number", 'quote it: plugin_version: "3.1.0"'),
        id="unquoted-version",
    ),
    pytest.param(
        "lab: b\nplugin_version: '3.x'\n",
        Expected(2, "plugin_version", "invalid plugin version '3.x'", 'write it like "3.1.0"'),
        id="bad-version",
    ),
    pytest.param(
        "lab: b\ndevices:\n  - {name: g, kind: gateway, model: g2, address: 'sim:g2',"
        " plugin_version: '2.4.0'}\n",
        Expected(
            3,
            "devices[0].plugin_version",
            "plugin 2.4.0 has no gateway codes",
            'plugin_version: "2.6.0" or newer for this gateway',
        ),
        id="gateway-on-an-old-plugin",
    ),
    pytest.param(
        "lab: b\nplugin_version: '2.1.0'\ndevices:\n"
        "  - {name: l, kind: lock, model: m, address: 'sim:m'}\n"
        "  - {name: g, kind: gateway, model: g2, address: 'sim:g2'}\n",
        Expected(
            2,
            "plugin_version",
            "plugin 2.1.0 has no gateway codes (gateway g",
            'plugin_version: "2.6.0" or newer for this gateway',
        ),
        id="gateway-under-an-old-lab-plugin",
    ),
    pytest.param(
        "lab: b\nredact: maybe\n",
        Expected(2, "redact", "valid boolean", "use true or false"),
        id="redact-not-bool",
    ),
    pytest.param(
        "lab: b\ndevices:\n  - front-door\n",
        Expected(3, "devices[0]", "valid dictionary", "mapping of key: value lines"),
        id="device-not-a-mapping",
    ),
    pytest.param(
        "devices: []\n",
        Expected(1, "lab", "required key missing", "add 'lab: bench-01'"),
        id="no-lab",
    ),
    pytest.param(
        "lab: b\nlab: c\n",
        Expected(2, "lab", "key 'lab' appears twice (first on line 1)", "keep one of them"),
        id="duplicate-key",
    ),
    pytest.param(
        "lab: b\ndevices:\n  - name: fd\n   kind: lock\n",
        Expected(4, None, "YAML syntax error", "indentation"),
        id="yaml-syntax",
    ),
    pytest.param(
        "- lab\n",
        Expected(1, None, "top level must be a mapping", "docs/bench-example.yaml"),
        id="top-level-list",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BROKEN)
def test_a_broken_file_gets_one_precise_message(
    tmp_path: Path, text: str, expected: Expected
) -> None:
    line, field, message, fix = expected
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert (err.file, err.line, err.field) == (path, line, field)
    assert message in err.message
    assert err.fix is not None
    assert fix in err.fix
    rendered = str(err)
    assert "\n" not in rendered
    prefix = f"{path}:{line}: " + (f"{field}: " if field else "")
    assert rendered.startswith(prefix)
    assert rendered.endswith(f" — fix: {err.fix}")


def test_an_inline_secret_is_never_echoed(tmp_path: Path) -> None:
    secret = "8c2f9a41d07e53b6e9120a7fc4d83b25"
    path = write(
        tmp_path,
        f"lab: b\ndevices:\n  - {{name: fd, kind: lock, model: m, address: 'sim:m', "
        f"credentials: '{secret}'}}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert secret not in str(info.value)


def test_further_problems_are_counted_not_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "lab: b\ntimeouts: {scan: x, connect: y}\n")
    with pytest.raises(ConfigError, match=r"\(\+1 more problem\)"):
        load_config(path)


def test_a_missing_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(tmp_path / "nope.yaml")
    assert "docs/bench-example.yaml" in (info.value.fix or "")


def test_a_directory_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_an_empty_file_says_where_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(write(tmp_path, ""))


def test_models_built_in_code_validate_too() -> None:
    with pytest.raises(ValueError, match="is not a device address"):
        DeviceConfig(name="fd", kind=DeviceKind.LOCK, model="m", address="nowhere")


def test_a_broken_credentials_file_names_the_file_and_the_config_line(tmp_path: Path) -> None:
    (tmp_path / "door.json").write_text('{"format": "ttlock-hil.credentials/1"}', "utf-8")
    (tmp_path / "door.json").chmod(0o600)
    text = (
        "lab: bench\ndevices:\n  - name: door\n    kind: lock\n    model: v3-keypad\n"
        "    address: 'sim:v3-keypad'\n    credentials: file:door.json\n"
    )
    config = parse_config(text, file=tmp_path / "hil-config.yaml", base_dir=tmp_path)
    with pytest.raises(ConfigError) as failed:
        config.credentials_for("door")
    assert failed.value.line == 7
    assert failed.value.field == "devices[0].credentials"
    assert "door.json" in failed.value.message


def test_did_you_mean_over_thousands_of_names_lists_a_few() -> None:
    names = [f"door-{i:05d}" for i in range(20_000)]
    fix = did_you_mean("zzz", names)
    assert len(fix) < 300
    assert "(+19990 more)" in fix

"""``model:`` checked against the models ttlock-hil knows; every problem of a config listed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ttlock_hil.harness.cli import main
from ttlock_hil.harness.config import KNOWN_MODELS, ConfigProblems, load_config, parse_config
from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.harness.sim.presets import PRESETS

REPO = Path(__file__).resolve().parents[3]


def test_the_known_models_are_the_simulators_presets() -> None:
    assert set(KNOWN_MODELS) == set(PRESETS)


def test_the_expectation_table_names_only_known_models() -> None:
    table = yaml.safe_load((REPO / "tests" / "hil" / "expectations.yaml").read_text("utf-8"))
    named = set()
    for conditions in table.values():
        if not isinstance(conditions, dict):
            continue
        for value in conditions.values():
            if isinstance(value, dict):
                # a tier cell (MODEL@TIER, *@TIER) names the model before the @
                models = {str(key).partition("@")[0] for key in value}
                named |= models - {"*"}
    assert named
    assert named <= set(KNOWN_MODELS), named - set(KNOWN_MODELS)


def one_device(model: str, address: str) -> str:
    return f"lab: b\ndevices:\n  - {{name: fd, kind: lock, model: {model}, address: '{address}'}}\n"


def test_a_mistyped_model_of_a_simulated_device_is_refused_with_did_you_mean() -> None:
    # Measured: `model: v3-keypd` validated and made a false firmware failure.
    with pytest.raises(ConfigError) as caught:
        parse_config(one_device("v3-keypd", "sim:v3-keypad"), file="lab.yaml")
    error = caught.value
    assert (error.line, error.field) == (3, "devices[0].model")
    assert error.message == "unknown model 'v3-keypd'"
    assert error.fix is not None
    assert error.fix.startswith("did you mean 'v3-keypad'?")
    assert "\n" not in str(error)


def test_a_simulated_device_is_the_model_of_its_preset_variants_included() -> None:
    assert parse_config(one_device("v3-keypad", "sim:v3-keypad_unlock-refusal-2")).devices
    with pytest.raises(ConfigError, match=r"the simulated device is a v3-keypad") as caught:
        parse_config(one_device("v3-padlock", "sim:v3-keypad"), file="lab.yaml")
    assert caught.value.fix == "write model: v3-keypad, or choose a sim:v3-padlock device"


@pytest.mark.parametrize(
    ("model", "address"),
    [
        ("s202f", "C1:23:45:67:89:AB"),  # a real model the simulator lacks
        ("v4-keypad", "C1:23:45:67:89:AB"),  # a new model, close to a known name: still fine
        ("m", "sim:m"),  # a preset the simulator does not have: the lab says so when built
    ],
)
def test_radio_devices_and_unknown_presets_keep_their_model(model: str, address: str) -> None:
    (device,) = parse_config(one_device(model, address)).devices
    assert device.model == model


BROKEN = """\
lab: b
timeouts: {scan: soon, connect: 1.0, command: later}
devices:
  - {name: fd, kind: lock, model: v3-keypad, address: 'sim:v3-keypad', adress: x}
  - {name: gw, kind: gatway, model: g2, address: 'sim:g2'}
"""


def test_every_problem_of_a_broken_config_is_listed(tmp_path: Path) -> None:
    # Measured: the error list hid "(+1 more problem)".
    path = tmp_path / "lab.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(ConfigProblems) as caught:
        load_config(path)
    error = caught.value
    text = str(error)
    assert "\n" not in text  # one line, like every config error
    assert text.split(" | ") == [
        f"{path}:4: devices[0].adress: unknown key (+3 more problems) — fix: did you mean "
        "'address'?",
        f"also {path}:2: timeouts.scan: Input should be a valid number, unable to parse "
        "string as a number — fix: use a number such as 10.0",
        f"also {path}:2: timeouts.command: Input should be a valid number, unable to parse "
        "string as a number — fix: use a number such as 10.0",
        f"also {path}:5: devices[1].kind: 'gatway' is not one of lock, gateway — fix: did you "
        "mean 'gateway'?",
    ]
    assert len(error.problems) == 3
    assert all(isinstance(p, ConfigError) for p in error.problems)


def test_the_command_prints_every_problem_in_its_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    assert main(["nightly", "--config", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {path}:4: devices[0].adress: unknown key (+3 more problems)")
    assert line.count(" | also ") == 3


def test_a_missing_key_that_a_mistyped_key_explains_is_one_problem() -> None:
    text = "lab: b\ndevices:\n  - {name: fd, kind: lock, model: v3-keypad, adress: 'sim:m'}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file="lab.yaml")
    assert not isinstance(caught.value, ConfigProblems)
    assert str(caught.value) == (
        "lab.yaml:3: devices[0].adress: unknown key — fix: did you mean 'address'?"
    )

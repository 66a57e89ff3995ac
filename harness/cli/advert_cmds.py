"""``ttlock-hil advert …``: decode TTLock advertisements (docs/protocol.md §6).

``advert decode HEX [--json]`` takes the manufacturer-specific AD data
*including* the two header ("company id") bytes, as in the golden vectors.
With ``--company-id N`` HEX is instead the value bleak reports for that key of
``AdvertisementData.manufacturer_data``.
"""

from __future__ import annotations

import argparse
import json
import re

from ttlock_hil.harness.cli import CliError
from ttlock_hil.protocol.advert import (
    Advert,
    AdvertKind,
    describe_scene,
    parse_bleak,
    parse_manufacturer_data,
)

_SEPARATORS = re.compile(r"[\s:_-]+")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    advert = subparsers.add_parser("advert", help="decode TTLock BLE advertisements")
    commands = advert.add_subparsers(dest="advert_command", required=True)
    decode = commands.add_parser(
        "decode",
        help="decode manufacturer data (including the two header bytes)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    decode.add_argument("hex", metavar="HEX", help="manufacturer data, e.g. 050302033e…")
    decode.add_argument(
        "--company-id",
        type=_company_id,
        default=None,
        help="HEX is bleak's payload for this company id (e.g. 0x0305); "
        "the two header bytes are then taken from the id",
    )
    decode.add_argument("--json", action="store_true", help="print one JSON object")
    decode.set_defaults(handler=decode_command)


def _company_id(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"company id {text!r} is not a number (e.g. 0x0305 or 773)"
        ) from exc
    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"company id must be 0..0xFFFF, got {text}")
    return value


def parse_hex(text: str) -> bytes:
    """HEX with optional ``0x`` prefix and ``: - _`` or space separators → bytes."""
    cleaned = _SEPARATORS.sub("", text.strip())
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        raise CliError(
            f"advertisement {text!r} is not hex: expected an even number of hex digits, "
            "e.g. 050302033e00000000ffeeddccbbaa"
        ) from exc


def decode_command(args: argparse.Namespace) -> int:
    data = parse_hex(args.hex)
    if args.company_id is None:
        advert = parse_manufacturer_data(data)
    else:
        advert = parse_bleak(args.company_id, data)
    if args.json:
        print(json.dumps(advert.to_dict()))
    else:
        print(summary(advert))
    return 0


def _yes_no(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "no")


def summary(advert: Advert) -> str:
    """A few readable lines describing ``advert``."""
    head = f"{advert.kind.value} (header {advert.protocol_type}.{advert.protocol_version})"
    lines = [head]
    if advert.kind is AdvertKind.LOCK:
        lock_type = advert.lock_type.name if advert.lock_type is not None else "unknown type"
        scene = advert.scene if advert.scene is not None else 0
        lines[0] = (
            f"lock {lock_type} (protocol {advert.protocol_type}.{advert.protocol_version}), "
            f"scene {scene}: {describe_scene(scene)}"
        )
        if advert.flags is None:
            lines.append("  flags        not advertised by this lock type")
        else:
            if advert.dormant:
                bolt = "unknown (lock dormant)"
            else:
                bolt = "unlocked" if advert.unlocked else "locked"
            lines += [
                f"  bolt         {bolt}",
                f"  setting mode {_yes_no(advert.setting_mode)}",
                f"  new events   {_yes_no(advert.has_events)}",
                f"  touch        {_yes_no(advert.touch)}",
                f"  dormant      {_yes_no(advert.dormant)}",
                f"  flags        0x{advert.flags:02x}",
                f"  battery      {advert.battery} %",
            ]
    elif advert.gateway_type is not None:
        lines[0] = f"gateway {advert.gateway_type.value}"
    lines.append(f"  MAC          {advert.mac or 'not in the data (too short)'}")
    return "\n".join(lines)

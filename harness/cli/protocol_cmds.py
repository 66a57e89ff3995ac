"""``ttlock-hil crc`` and ``ttlock-hil frame encode|decode``: the codec on the command line.

Output contract (other tools rely on it; keep it stable):

* ``crc HEX`` prints the CRC as two lowercase hex digits.
* ``frame encode`` prints the frame as lowercase hex, without the ``0D 0A`` trailer.
* ``frame decode HEX --json`` prints a JSON list, one object per frame, with
  ``kind protocol_type sub_version scene organization sub_organization command
  encrypt length crc crc_ok payload plaintext`` and ``reply`` for lock replies.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ttlock_hil.protocol.codes import DEFAULT_PLUGIN_VERSION
from ttlock_hil.protocol.crc import crc8
from ttlock_hil.protocol.crypto import KEY_SIZE, aes_encrypt, gateway_key
from ttlock_hil.protocol.dissect import dissect
from ttlock_hil.protocol.errormap import lock_error_code
from ttlock_hil.protocol.errors import (
    FrameError,
    Truncated,
)
from ttlock_hil.protocol.frame import (
    GATEWAY_MAGIC,
    LOCK_MAGIC,
    LOCK_TRAILER,
    GatewayFrame,
    LegacyLockFrame,
    LockFrame,
    LockHeader,
    build_gateway_frame,
    build_legacy_frame,
    encode_lock_command,
    frame_size,
)

from . import CliError

_HEX_NOISE = re.compile(r"[\s:]|0x", re.IGNORECASE)


def parse_hex(text: str, what: str) -> bytes:
    """Hex from the command line; spaces, colons and ``0x`` prefixes are allowed."""
    cleaned = _HEX_NOISE.sub("", text)
    bad = re.search(r"[^0-9a-fA-F]", cleaned)
    if bad:
        raise CliError(f"{what}: {bad.group()!r} at hex digit {bad.start()} is not a hex digit")
    if len(cleaned) % 2:
        raise CliError(f"{what}: odd number of hex digits ({len(cleaned)}); each byte needs two")
    return bytes.fromhex(cleaned)


def parse_key(text: str) -> bytes:
    key = parse_hex(text, "--key")
    if len(key) != KEY_SIZE:
        raise CliError(f"--key must be 16 bytes (32 hex digits), got {len(key)} bytes")
    return key


def parse_byte(text: str, what: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise CliError(f"{what}: {text!r} is not a number (use 71 or 0x47)") from None
    if not 0 <= value <= 0xFF:
        raise CliError(f"{what}: {value} does not fit one byte (0..255)")
    return value


# --- crc -------------------------------------------------------------------------------


def _crc(args: argparse.Namespace) -> int:
    print(f"{crc8(parse_hex(args.hex, 'HEX')):02x}")
    return 0


# --- frame encode ------------------------------------------------------------------------


def _encode(args: argparse.Namespace) -> int:
    command = parse_byte(args.command, "--command")
    plaintext = parse_hex(args.plaintext, "--plaintext")
    key = parse_key(args.key) if args.key is not None else None
    if args.gateway_mac is not None or args.gateway:
        if args.gateway_mac is not None and key is not None:
            raise CliError(
                "give either --gateway-mac (derives the key) or --gateway --key, not both"
            )
        if args.gateway_mac is not None:
            key = gateway_key(args.gateway_mac)
        if key is None:
            raise CliError(
                "a gateway frame is always encrypted: add --key HEX or --gateway-mac MAC"
            )
        print(build_gateway_frame(command, aes_encrypt(key, plaintext)).hex())
        return 0
    header = LockHeader.parse(args.header)
    if header.is_legacy:
        if args.seed is None:
            raise CliError("a legacy frame (--header < 5) needs --seed N (the XOR seed, 1..127)")
        if key is not None:
            raise CliError("legacy frames are XOR-coded with --seed, not AES: drop --key")
        seed = parse_byte(args.seed, "--seed")
        frame = build_legacy_frame(
            command, plaintext, seed=seed, protocol_type=header.protocol_type
        )
        print(frame.hex())
        return 0
    if args.seed is not None:
        raise CliError("--seed only applies to legacy frames (--header 3)")
    encrypt = parse_byte(args.encrypt, "--encrypt")
    print(encode_lock_command(command, plaintext, key, header=header, encrypt=encrypt).hex())
    return 0


# --- frame decode ------------------------------------------------------------------------


def split_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Cut a capture of concatenated frames (CRLF optional) into ``(offset, frame)``.

    Strict, unlike the live reassembler: any byte that does not start a frame is
    an error naming its offset, so a bad capture is never half-decoded silently.
    """
    frames: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):
        if data[offset : offset + 2] == LOCK_TRAILER:
            offset += 2
            continue
        magic = data[offset : offset + 2]
        if magic not in (LOCK_MAGIC, GATEWAY_MAGIC):
            raise FrameError(
                f"byte {offset}: expected a frame magic (7f5a or 725b), "
                f"found {magic.hex() or 'the end'}",
                field="magic",
                offset=offset,
            )
        size = frame_size(data, offset)
        if size is None or offset + size > len(data):
            raise Truncated(
                f"byte {offset}: frame is cut short ({len(data) - offset} bytes left)",
                field="length",
                offset=offset,
            )
        frames.append((offset, data[offset : offset + size]))
        offset += size
    if not frames:
        raise FrameError("no frame in input", field="magic", offset=0)
    return frames


def describe_frame(
    raw: bytes,
    key: bytes | None,
    plugin_version: str = DEFAULT_PLUGIN_VERSION,
) -> dict[str, Any]:
    """The JSON object ``frame decode --json`` prints for one frame (a frame as parsed:
    :func:`split_frames` has already refused what is no frame at all)."""
    seen = dissect(raw, key=key)
    frame = seen.frame
    if frame is None:
        raise FrameError(seen.problem or "not a frame", field="magic", offset=0)
    out: dict[str, Any] = {"kind": frame.kind.value}
    if isinstance(frame, LockFrame):
        h = frame.header
        out |= {
            "protocol_type": h.protocol_type,
            "sub_version": h.sub_version,
            "scene": h.scene,
            "organization": h.organization,
            "sub_organization": h.sub_organization,
        }
    else:
        out |= dict.fromkeys(
            ("protocol_type", "sub_version", "scene", "organization", "sub_organization")
        )
        if isinstance(frame, LegacyLockFrame):
            out["protocol_type"] = frame.protocol_type
    out |= {
        "command": frame.command,
        "encrypt": frame.encrypt if not isinstance(frame, GatewayFrame) else None,
        "length": frame.length,
        "crc": frame.crc,
        "crc_ok": seen.crc_ok,
        "payload": frame.payload.hex(),
    }
    out["plaintext"] = seen.plaintext.hex() if seen.plaintext is not None else None
    if seen.decrypt_error is not None:
        out["decrypt_error"] = seen.decrypt_error
    out["reply"] = None
    if isinstance(frame, LockFrame) and seen.reply is not None:
        reply = seen.reply
        error_code = None
        if reply.error_byte is not None:
            error_code = lock_error_code(reply.error_byte, plugin_version).code
        out["reply"] = {
            "command": reply.echo,
            "status": reply.status,
            "error_code": error_code,
            "error_byte": reply.error_byte,
            "data": reply.data.hex(),
        }
    return out


def _text(obj: dict[str, Any], offset: int) -> str:
    lines = [f"frame at byte {offset}: {obj['kind']} command 0x{obj['command']:02x}"]
    if obj["kind"] == "lock":
        lines.append(
            "  header {protocol_type}.{sub_version}.{scene}.{organization}.{sub_organization}"
            "  encrypt 0x{encrypt:02x}".format(**obj)
        )
    crc = "ok" if obj["crc_ok"] else "WRONG"
    lines.append(f"  length {obj['length']}  crc 0x{obj['crc']:02x} ({crc})")
    lines.append(f"  payload   {obj['payload'] or '(empty)'}")
    if obj["plaintext"] is not None:
        lines.append(f"  plaintext {obj['plaintext'] or '(empty)'}")
    elif "decrypt_error" in obj:
        lines.append(f"  plaintext: {obj['decrypt_error']}")
    else:
        lines.append("  plaintext: (encrypted; give --key or --gateway-mac)")
    reply = obj.get("reply")
    if reply:
        status = "ok" if reply["status"] == 1 else "FAILED"
        lines.append(f"  reply to 0x{reply['command']:02x}: {status}")
        if reply["error_code"] is not None:
            lines.append(f"  error code {reply['error_code']} (byte 0x{reply['error_byte']:02x})")
    return "\n".join(lines)


def _decode(args: argparse.Namespace) -> int:
    if args.key is not None and args.gateway_mac is not None:
        raise CliError("give either --key or --gateway-mac, not both")
    key = parse_key(args.key) if args.key is not None else None
    if args.gateway_mac is not None:
        key = gateway_key(args.gateway_mac)
    frames = split_frames(parse_hex(args.hex, "HEX"))
    described = [(offset, describe_frame(raw, key)) for offset, raw in frames]
    if args.json:
        print(json.dumps([obj for _, obj in described], indent=2))
    else:
        print("\n".join(_text(obj, offset) for offset, obj in described))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    crc = sub.add_parser("crc", help="TTLock CRC-8 of HEX (vendor table)")
    crc.add_argument("hex", metavar="HEX")
    crc.set_defaults(handler=_crc)

    frame = sub.add_parser("frame", help="build or take apart TTLock frames")
    verbs = frame.add_subparsers(dest="verb", required=True)

    enc = verbs.add_parser("encode", help="build a frame, print it as hex (no CRLF)")
    enc.add_argument("--command", required=True, help="opcode, e.g. 0x47")
    enc.add_argument("--plaintext", required=True, help="payload before encryption, hex")
    enc.add_argument("--key", help="AES key (32 hex digits); without it the payload goes as-is")
    enc.add_argument(
        "--header",
        default="5.3.1.1.1",
        help="protocol_type.sub_version.scene.organization.sub_organization "
        "(default 5.3.1.1.1; a protocol type below 5, e.g. 3, builds a legacy frame)",
    )
    enc.add_argument("--encrypt", default="0xaa", help="encrypt byte of V3 frames (default 0xaa)")
    enc.add_argument("--seed", help="XOR seed of a legacy frame")
    enc.add_argument("--gateway-mac", help="build a gateway frame, key derived from this MAC")
    enc.add_argument("--gateway", action="store_true", help="build a gateway frame with --key")
    enc.set_defaults(handler=_encode)

    dec = verbs.add_parser("decode", help="take apart one or more concatenated frames")
    dec.add_argument("hex", metavar="HEX")
    dec.add_argument("--key", help="AES key to decrypt lock or gateway payloads")
    dec.add_argument("--gateway-mac", help="derive the gateway key from this MAC")
    dec.add_argument("--json", action="store_true", help="print a JSON list, one object per frame")
    dec.set_defaults(handler=_decode)

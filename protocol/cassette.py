"""Cassettes: a recorded TTLock session, decoded, with its secrets as references.

Sans-IO like the rest of :mod:`ttlock_hil.protocol`: a cassette is built, read,
written (as JSON text) and matched here; files, clocks and devices belong to the
harness (``harness/cassette.py``) and the simulator (``harness/sim/replay.py``).
docs/replay.md describes the format and both replays; docs/architecture.md §10 why
replay can be exact (AES-CBC with IV = key, reset per frame, docs/protocol.md §3.1).

**Plaintexts are templates.** Every plaintext is hex, with *tokens* where a
secret or a lock-chosen value stood: ``5601{admin_ps}{unlock_key}534349454e4552``.
A token has a fixed size, declared once in the cassette's ``tokens`` table:

==============  =========================================================================
``aes_key``      the lock's AES key (handed out by GET_AES_KEY, §4.3): a credential
``admin_ps``     the admin password (ADD_ADMIN, CHECK_ADMIN): a credential
``unlock_key``   the unlock key (ADD_ADMIN): a credential
``rN``           a value the lock chose (a login challenge ``ps``): not secret, its value
                 is listed apart in ``random``
``sumN``         ``rN + unlock_key`` mod 2³² (CHECK_RANDOM, UNLOCK, lock: §4.3): derived,
                 recomputed on replay
``sN``           any other secret (a passcode, the admin code, a Wi-Fi password)
==============  =========================================================================

No secret value is ever written: a replay gets the credentials apart (a lab's
credentials file) or *binds* a token to the value it first sees, and uses that value
from then on. :class:`Bindings` holds them; :meth:`Template.compare` matches an
actual plaintext against a template, binding what is still unknown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final, TypeVar

from .commands import LockCommand
from .crypto import DEFAULT_LOCK_KEY, KEY_SIZE
from .errors import MessageError, ProtocolError
from .frame import LockHeader
from .messages import AesKeyReply, CheckAdminReply, CheckUserTimeReply
from .messages._fields import F, Trailing, WireStruct
from .messages.registry import decode_reply_data, decode_request

__all__ = [
    "CASSETTE_FORMAT",
    "CREDENTIAL_TOKENS",
    "Bindings",
    "Cassette",
    "CassetteError",
    "Comparison",
    "Connection",
    "DeviceInfo",
    "Interaction",
    "KeyUse",
    "Notification",
    "ReplayMismatch",
    "Template",
    "TokenKind",
    "TokenSpec",
    "Tokenizer",
    "command_label",
    "compare_outcomes",
    "stand_in",
]

CASSETTE_FORMAT: Final = 1
"""The ``cassette`` version this code writes and reads."""

CREDENTIAL_TOKENS: Final = {"aes_key": KEY_SIZE, "admin_ps": 4, "unlock_key": 4}
"""The lockData values a cassette only ever refers to (docs/protocol.md §4.3)."""

_TOKEN_RE: Final = re.compile(r"\{([a-z_]+[0-9]*)\}")
_HEX_RE: Final = re.compile(r"[0-9a-f]*")


class CassetteError(ProtocolError):
    """A cassette that cannot be read or used; the message names the place and the fix."""


class ReplayMismatch(CassetteError, AssertionError):
    """A replay met something the cassette did not record: expected and actual, no secret.

    ``interaction`` is the cassette's interaction number (``None``: not tied to one).
    """

    def __init__(
        self,
        message: str,
        *,
        interaction: int | None = None,
        command: int | None = None,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        label = f"interaction #{interaction}" if interaction is not None else "cassette"
        if command is not None:
            label += f" {command_label(command)}"
        text = f"{label}: {message}"
        if expected is not None or actual is not None:
            text += f"\n  expected: {expected}\n  actual:   {actual}"
        super().__init__(text)
        self.interaction = interaction
        self.command = command
        self.expected = expected
        self.actual = actual


class TokenKind(StrEnum):
    CREDENTIAL = "credential"  # aes_key, admin_ps, unlock_key: supplied apart, or bound
    RANDOM = "random"  # chosen by the lock; its value is in ``random`` unless secret
    SUM = "sum"  # (challenge + unlock_key) mod 2^32: derived
    SECRET = "secret"  # a passcode, the admin code, a password: supplied apart, or bound


class KeyUse(StrEnum):
    """Which key a frame's payload was encrypted with (never the key itself)."""

    NONE = "none"  # an empty payload is not encrypted (§2.1)
    DEFAULT = "default"  # the public default key (GET_AES_KEY and its reply, §3.1)
    LOCK = "lock"  # the lock's own key: the aes_key token


@dataclass(frozen=True, slots=True)
class TokenSpec:
    name: str
    kind: TokenKind
    size: int
    of: str | None = None
    """For a sum: the random token (challenge) it adds the unlock key to."""
    digits: bool = False
    """For a secret: it was ASCII digits (a passcode), so a stand-in is digits too."""
    with_: str = "unlock_key"
    """For a sum: the unlock-key token (``unlock_key2`` after a second pairing)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "bytes": self.size}
        if self.of is not None:
            out["of"] = self.of
        if self.with_ != "unlock_key":
            out["with"] = self.with_
        if self.digits:
            out["digits"] = True
        return out


def command_label(command: int) -> str:
    try:
        return LockCommand(command).name
    except ValueError:
        return f"0x{command:02x}"


# --- templates ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """How an actual plaintext compares with a template."""

    ok: bool
    differing: tuple[int, ...] = ()
    """Byte offsets of literal bytes that differ."""
    tokens: tuple[str, ...] = ()
    """Tokens whose bound value differs from the actual bytes."""
    size: tuple[int, int] | None = None
    """(expected, actual) sizes when they differ (then nothing else was compared)."""

    def describe(self) -> str:
        if self.size is not None:
            return f"{self.size[1]} bytes where {self.size[0]} were recorded"
        parts = []
        if self.differing:
            parts.append("bytes " + ", ".join(str(i) for i in self.differing[:8]) + " differ")
        if self.tokens:
            parts.append("not the value bound before: " + ", ".join(self.tokens))
        return "; ".join(parts) or "equal"


@dataclass(frozen=True, slots=True)
class Template:
    """A plaintext with tokens: literal bytes and token names, in order."""

    parts: tuple[bytes | str, ...]
    sizes: Mapping[str, int] = field(compare=False, repr=False)

    @classmethod
    def literal(cls, data: bytes) -> Template:
        return cls((bytes(data),) if data else (), {})

    @classmethod
    def parse(cls, text: str, tokens: Mapping[str, TokenSpec], *, where: str) -> Template:
        parts: list[bytes | str] = []
        position = 0
        for found in _TOKEN_RE.finditer(text):
            parts.extend(_hex_part(text[position : found.start()], where))
            name = found.group(1)
            if name not in tokens:
                raise CassetteError(
                    f"{where}: token {{{name}}} is not declared in the cassette's tokens table"
                )
            parts.append(name)
            position = found.end()
        parts.extend(_hex_part(text[position:], where))
        return cls(tuple(parts), {name: spec.size for name, spec in tokens.items()})

    @property
    def text(self) -> str:
        return "".join(p.hex() if isinstance(p, bytes) else f"{{{p}}}" for p in self.parts)

    @property
    def size(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else self.sizes[p] for p in self.parts)

    @property
    def token_names(self) -> tuple[str, ...]:
        return tuple(p for p in self.parts if isinstance(p, str))

    def render(self, bindings: Bindings) -> bytes:
        """The plaintext with every token's value (:class:`CassetteError` if one is unknown)."""
        out = bytearray()
        for part in self.parts:
            if isinstance(part, bytes):
                out += part
            else:
                value = bindings.value(part)
                if value is None:
                    raise CassetteError(
                        f"token {{{part}}} has no value: supply it apart ({bindings.hint(part)})"
                    )
                out += value
        return bytes(out)

    def compare(self, actual: bytes, bindings: Bindings, *, bind: bool = True) -> Comparison:
        """Compare ``actual`` with this template; unbound tokens take actual's bytes."""
        if len(actual) != self.size:
            return Comparison(False, size=(self.size, len(actual)))
        differing: list[int] = []
        wrong: list[str] = []
        offset = 0
        for part in self.parts:
            if isinstance(part, bytes):
                got = actual[offset : offset + len(part)]
                differing += [
                    offset + i for i, (a, b) in enumerate(zip(part, got, strict=True)) if a != b
                ]
                offset += len(part)
                continue
            size = self.sizes[part]
            got = actual[offset : offset + size]
            value = bindings.value(part)
            if value is None:
                if bind:
                    bindings.bind(part, got)
            elif value != got:
                wrong.append(part)
            offset += size
        return Comparison(not differing and not wrong, tuple(differing), tuple(wrong))

    def masked(self, actual: bytes) -> str:
        """``actual`` in hex with this template's token spans shown as ``{name}`` (no secret)."""
        if len(actual) != self.size:
            return f"({len(actual)} bytes, not shown: the token spans do not line up)"
        out = []
        offset = 0
        for part in self.parts:
            size = len(part) if isinstance(part, bytes) else self.sizes[part]
            out.append(
                actual[offset : offset + size].hex() if isinstance(part, bytes) else f"{{{part}}}"
            )
            offset += size
        return "".join(out)


def _hex_part(text: str, where: str) -> Iterator[bytes]:
    if not text:
        return
    if len(text) % 2 or not _HEX_RE.fullmatch(text):
        raise CassetteError(f"{where}: {text[:40]!r} is not lower-case hex of whole bytes")
    yield bytes.fromhex(text)


# --- bindings ------------------------------------------------------------------------------


class Bindings:
    """Token values known to one replay: supplied, recorded (``random``) or bound on sight.

    Never written anywhere: they hold the secrets of the replay.
    """

    def __init__(self, tokens: Mapping[str, TokenSpec]) -> None:
        self.tokens = dict(tokens)
        self._values: dict[str, bytes] = {}

    def __repr__(self) -> str:  # names only: the values may be secrets
        return f"Bindings({sorted(self._values)})"

    def known(self) -> frozenset[str]:
        return frozenset(self._values)

    def supply(self, name: str, value: bytes) -> None:
        spec = self.tokens.get(name)
        if spec is not None and len(value) != spec.size:
            raise CassetteError(
                f"{{{name}}} is {spec.size} bytes in this cassette, the value given has "
                f"{len(value)}"
            )
        self._values[name] = bytes(value)

    def supply_credentials(self, aes_key: bytes, admin_ps: int, unlock_key: int) -> None:
        self.supply("aes_key", aes_key)
        self.supply("admin_ps", admin_ps.to_bytes(4, "big"))
        self.supply("unlock_key", unlock_key.to_bytes(4, "big"))

    def bind(self, name: str, value: bytes) -> None:
        spec = self.tokens.get(name)
        if spec is not None and spec.kind is TokenKind.SUM:
            return  # derived: never bound, always recomputed
        self._values.setdefault(name, bytes(value))

    def value(self, name: str) -> bytes | None:
        spec = self.tokens.get(name)
        if spec is not None and spec.kind is TokenKind.SUM and spec.of is not None:
            challenge = self._values.get(spec.of)
            unlock_key = self._values.get(spec.with_)
            if challenge is None or unlock_key is None:
                return None
            total = int.from_bytes(challenge, "big") + int.from_bytes(unlock_key, "big")
            return (total & 0xFFFF_FFFF).to_bytes(4, "big")
        return self._values.get(name)

    def key(self, use: KeyUse | str, token: str = "aes_key") -> bytes | None:
        """The AES key of ``use``: the default key, the lock key ``token``, or none."""
        use = KeyUse(use)
        if use is KeyUse.DEFAULT:
            return DEFAULT_LOCK_KEY
        if use is KeyUse.LOCK:
            return self.value(token)
        return None

    def lock_keys(self) -> list[bytes]:
        """Every lock key known so far (a cassette that pairs twice has two)."""
        return [
            value
            for name, value in self._values.items()
            if name.startswith("aes_key") and len(value) == KEY_SIZE
        ]

    def hint(self, name: str) -> str:
        spec = self.tokens.get(name)
        if spec is None or spec.kind is TokenKind.CREDENTIAL:
            return "give the lock's credentials: --credentials FILE or the lab's credentials:"
        if spec.kind is TokenKind.SUM:
            return f"it is {spec.of} + unlock_key: both must be known"
        return "a secret of the session (a passcode or password): pass secrets={...}"


# --- the model ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """A frame the device notified: the reply, a progress reply or a push."""

    kind: str  # "reply" | "progress" | "push" | "stray"
    at: float
    header: str
    encrypt: int
    key: KeyUse
    plaintext: Template
    fields: Mapping[str, Any] = field(default_factory=dict)
    key_token: str = "aes_key"
    """Which lock key, when ``key`` is ``lock`` (``aes_key2`` after a second pairing)."""

    @property
    def echo(self) -> int | None:
        first = self.plaintext.parts[0] if self.plaintext.parts else None
        return first[0] if isinstance(first, bytes) and first else None

    @property
    def status(self) -> int | None:
        first = self.plaintext.parts[0] if self.plaintext.parts else None
        return first[1] if isinstance(first, bytes) and len(first) > 1 else None

    @property
    def error_byte(self) -> int | None:
        first = self.plaintext.parts[0] if self.plaintext.parts else None
        if isinstance(first, bytes) and len(first) > 2 and first[1] == 0:
            return first[2]
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": round(self.at, 6),
            "header": self.header,
            "encrypt": f"0x{self.encrypt:02x}",
            "key": self.key.value,
            **({"key_token": self.key_token} if self.key_token != "aes_key" else {}),
            "plaintext": self.plaintext.text,
            "echo": None if self.echo is None else f"0x{self.echo:02x}",
            "status": self.status,
            "error_byte": self.error_byte,
            "fields": dict(self.fields),
        }


@dataclass(frozen=True, slots=True)
class Interaction:
    """One request the app wrote, and everything the device notified until the next one."""

    n: int
    connection: int
    at: float
    """Seconds since the cassette began."""
    clock: str | None
    """The harness's clock (ISO, device-local) when the request was built."""
    command: int
    header: str
    key: KeyUse
    request: Template
    notifications: tuple[Notification, ...]
    outcome: str
    """``ok``, ``device-error``, ``timeout`` or the link condition that ended it."""
    code: int | None
    latency: float | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    key_token: str = "aes_key"
    """Which lock key encrypted the request, when ``key`` is ``lock``."""

    @property
    def label(self) -> str:
        return f"#{self.n} {command_label(self.command)}"

    @property
    def reply(self) -> Notification | None:
        for note in self.notifications:
            if note.kind == "reply":
                return note
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "connection": self.connection,
            "at": round(self.at, 6),
            "clock": self.clock,
            "command": command_label(self.command),
            "opcode": f"0x{self.command:02x}",
            "request": {
                "header": self.header,
                "key": self.key.value,
                **({"key_token": self.key_token} if self.key_token != "aes_key" else {}),
                "plaintext": self.request.text,
                "fields": dict(self.fields),
            },
            "notifications": [note.to_json() for note in self.notifications],
            "outcome": self.outcome,
            "code": self.code,
            "latency": None if self.latency is None else round(self.latency, 6),
        }


@dataclass(frozen=True, slots=True)
class Connection:
    n: int
    at: float
    setting_mode: bool | None
    battery: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "at": round(self.at, 6),
            "setting_mode": self.setting_mode,
            "battery": self.battery,
        }


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    name: str
    kind: str = "lock"
    model: str | None = None
    preset: str | None = None
    firmware: str | None = None
    hardware: str | None = None
    header: str | None = None
    """The lock's own header (what it puts on its replies, §2.1)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "model": self.model,
            "preset": self.preset,
            "firmware": self.firmware,
            "hardware": self.hardware,
            "header": self.header,
        }


@dataclass(frozen=True, slots=True)
class Cassette:
    """A recorded session (see the module docstring and docs/replay.md)."""

    source: str
    device: DeviceInfo
    plugin_version: str
    tokens: Mapping[str, TokenSpec]
    random: tuple[Mapping[str, Any], ...]
    connections: tuple[Connection, ...]
    interactions: tuple[Interaction, ...]
    recorded: str | None = None
    harness: str | None = None
    notes: tuple[str, ...] = ()

    def bindings(self) -> Bindings:
        """Bindings with the recorded lock-chosen values that are not secret."""
        bindings = Bindings(self.tokens)
        for entry in self.random:
            if "hex" in entry:
                bindings.supply(str(entry["token"]), bytes.fromhex(str(entry["hex"])))
        return bindings

    def random_values(self) -> list[bytes | str]:
        """The lock's random draws in recorded order: a value, or a token name (secret)."""
        return [
            bytes.fromhex(str(e["hex"])) if "hex" in e else str(e["token"]) for e in self.random
        ]

    @property
    def starts_in_setting_mode(self) -> bool:
        """The lock was factory-fresh: its advert said so, or (a capture, which holds no
        advert) the app asked it for a key (GET_AES_KEY, §4.3) before anything else."""
        if self.connections and self.connections[0].setting_mode is not None:
            return bool(self.connections[0].setting_mode)
        for item in self.interactions:
            if item.command == LockCommand.GET_AES_KEY:
                return True
            if item.command != LockCommand.INITIALIZATION:
                return False
        return False

    def essence(self) -> dict[str, Any]:
        """What a replay uses, without when it happened: two recordings of one session
        (a recorder's and a btsnoop import's) have the same essence."""
        full = self.to_json()
        keep = ("connection", "command", "opcode", "outcome", "code")
        return {
            "header": self.device.header,
            "tokens": full["tokens"],
            "random": full["random"],
            "interactions": [
                {
                    **{k: item[k] for k in keep},
                    "request": {
                        k: item["request"].get(k)
                        for k in ("header", "key", "key_token", "plaintext")
                    },
                    "notifications": [
                        {
                            k: n.get(k)
                            for k in ("kind", "header", "encrypt", "key", "key_token", "plaintext")
                        }
                        for n in item["notifications"]
                    ],
                }
                for item in full["interactions"]
            ],
        }

    def with_interaction(self, index: int, interaction: Interaction) -> Cassette:
        items = list(self.interactions)
        items[index] = interaction
        return replace(self, interactions=tuple(items))

    # --- JSON --------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "cassette": CASSETTE_FORMAT,
            "source": self.source,
            "recorded": self.recorded,
            "harness": self.harness,
            "plugin_version": self.plugin_version,
            "device": self.device.to_json(),
            "credentials": "references only: supply the lock's credentials apart",
            "tokens": {name: spec.to_json() for name, spec in sorted(self.tokens.items())},
            "random": [dict(entry) for entry in self.random],
            "connections": [c.to_json() for c in self.connections],
            "interactions": [i.to_json() for i in self.interactions],
            "notes": list(self.notes),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def loads(cls, text: str, *, name: str = "cassette") -> Cassette:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise CassetteError(f"{name}: not JSON ({exc}): a cassette is a JSON file") from exc
        return cls.from_json(data, name=name)

    @classmethod
    def from_json(cls, data: object, *, name: str = "cassette") -> Cassette:
        reader = _Reader(name)
        try:
            return reader.cassette(data)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            if isinstance(exc, CassetteError):
                raise
            raise CassetteError(
                f"{name}: {reader.where}: {type(exc).__name__}: {exc}: "
                "re-record it or fix that field (docs/replay.md lists the format)"
            ) from exc


class _Reader:
    """JSON → :class:`Cassette`, remembering where it is for error messages."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.where = "top level"

    def fail(self, problem: str) -> CassetteError:
        return CassetteError(f"{self.name}: {self.where}: {problem}")

    def cassette(self, data: object) -> Cassette:
        if not isinstance(data, dict):
            raise self.fail("a cassette is a JSON object")
        version = data.get("cassette")
        if version != CASSETTE_FORMAT:
            raise self.fail(
                f"cassette format {version!r}, this ttlock-hil reads {CASSETTE_FORMAT}: "
                "record it again with this version"
            )
        self.where = "tokens"
        tokens: dict[str, TokenSpec] = {}
        for token, spec in dict(data.get("tokens") or {}).items():
            kind = TokenKind(spec["kind"])
            size = int(spec["bytes"])
            if not 1 <= size <= 255:
                raise self.fail(f"token {token} has {size} bytes")
            fixed = _fixed_size(str(token), kind)
            if fixed is not None and size != fixed:
                # A replay supplies these from credentials: it would stop mid-way.
                raise self.fail(f"token {token} has {size} bytes, a {kind.value} has {fixed}")
            tokens[str(token)] = TokenSpec(
                str(token),
                kind,
                size,
                _optional(spec.get("of"), str, "of"),
                bool(spec.get("digits", False)),
                str(spec.get("with", "unlock_key")),
            )
        self.where = "device"
        dev = data["device"]
        device = DeviceInfo(
            name=str(dev["name"]),
            kind=str(dev.get("kind", "lock")),
            model=_optional(dev.get("model"), str, "model"),
            preset=_optional(dev.get("preset"), str, "preset"),
            firmware=_optional(dev.get("firmware"), str, "firmware"),
            hardware=_optional(dev.get("hardware"), str, "hardware"),
            header=self.header(dev["header"], "header") if dev.get("header") else None,
        )
        self.where = "random"
        random_entries = tuple(dict(entry) for entry in data.get("random") or ())
        for entry in random_entries:
            if str(entry["token"]) not in tokens:
                raise self.fail(f"token {entry['token']} is not declared")
            if "hex" in entry:
                value = b"".join(_hex_part(str(entry["hex"]), f"{self.name}: random"))
                size = tokens[str(entry["token"])].size
                if len(value) != size:
                    raise self.fail(f"{entry['token']} is {size} bytes, its value {len(value)}")
        self.where = "connections"
        connections = tuple(
            Connection(
                int(c["n"]),
                float(c["at"]),
                _optional(c.get("setting_mode"), bool, "setting_mode"),
                _optional(c.get("battery"), int, "battery"),
            )
            for c in data.get("connections") or ()
        )
        interactions = []
        for index, item in enumerate(data.get("interactions") or ()):
            self.where = f"interaction {index + 1}"
            interactions.append(self.interaction(item, tokens))
        return Cassette(
            source=str(data.get("source", "unknown")),
            device=device,
            plugin_version=str(data.get("plugin_version", "3.1.0")),
            tokens=tokens,
            random=random_entries,
            connections=connections,
            interactions=tuple(interactions),
            recorded=data.get("recorded"),
            harness=data.get("harness"),
            notes=tuple(str(n) for n in data.get("notes") or ()),
        )

    def header(self, value: object, what: str) -> str:
        """A frame header as the cassette writes it (``5.3.1.1.1``), checked now: a replay
        that meets a bad one later would stop with a traceback."""
        try:
            return str(LockHeader.parse(_text(value, what)))
        except ProtocolError as exc:
            raise self.fail(f"{what}: {exc}") from None

    def byte(self, value: object, what: str) -> int:
        number = int(str(value), 16)
        if not 0 <= number <= 0xFF:
            raise self.fail(f"{what} {value!r} is not one byte (0x00..0xff)")
        return number

    def clock(self, value: object) -> str | None:
        if value is None:
            return None
        year = _iso_year(_text(value, "clock"))
        if year is None:
            raise self.fail(f"clock {value!r} is not an ISO date and time")
        if not 2000 <= year <= 2099:
            raise self.fail(f"clock {value!r} is outside a lock's years (2000..2099)")
        return str(value)

    def key_token(self, item: Mapping[str, Any], tokens: Mapping[str, TokenSpec]) -> str:
        token = str(item.get("key_token", "aes_key"))
        if token != "aes_key" and token not in tokens:
            raise self.fail(f"key token {token} is not declared")
        return token

    def interaction(self, item: dict[str, Any], tokens: Mapping[str, TokenSpec]) -> Interaction:
        request = item["request"]
        where = f"{self.name}: {self.where}"
        notes = tuple(
            Notification(
                kind=str(n["kind"]),
                at=float(n["at"]),
                header=self.header(n["header"], "notification header"),
                encrypt=self.byte(n.get("encrypt", "0xaa"), "encrypt"),
                key=KeyUse(n["key"]),
                plaintext=Template.parse(str(n["plaintext"]), tokens, where=where),
                fields=dict(n.get("fields") or {}),
                key_token=self.key_token(n, tokens),
            )
            for n in item.get("notifications") or ()
        )
        for note in notes:
            if note.kind not in ("reply", "progress", "push", "stray"):
                raise self.fail(f"notification kind {note.kind!r}")
        return Interaction(
            n=int(item["n"]),
            connection=int(item["connection"]),
            at=float(item["at"]),
            clock=self.clock(item.get("clock")),
            command=self.byte(item["opcode"], "opcode"),
            header=self.header(request["header"], "request header"),
            key=KeyUse(request["key"]),
            key_token=self.key_token(request, tokens),
            request=Template.parse(str(request["plaintext"]), tokens, where=where),
            notifications=notes,
            outcome=str(item.get("outcome", "ok")),
            code=_optional(item.get("code"), int, "code"),
            latency=_optional(item.get("latency"), float, "latency"),
            fields=dict(request.get("fields") or {}),
        )


def _fixed_size(token: str, kind: TokenKind) -> int | None:
    """The size every cassette gives a credential or a sum token (docs/replay.md §2)."""
    if kind is TokenKind.SUM:
        return 4
    if kind is TokenKind.CREDENTIAL:
        if token.startswith("aes_key"):
            return KEY_SIZE
        if token.startswith(("admin_ps", "unlock_key")):
            return 4
    return None


_T = TypeVar("_T")


def _optional(value: object, kind: type[_T], what: str) -> _T | None:
    """``value`` when it is ``None`` or of ``kind`` (an int is a float too), else TypeError."""
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return value  # type: ignore[return-value]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{what} must be {kind.__name__} or null, got {type(value).__name__}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be text, got {type(value).__name__}")
    return value


# --- making templates while recording -----------------------------------------------------


_CHALLENGE_REPLIES: Final = (CheckAdminReply, CheckUserTimeReply)
_DIGIT_RUN: Final = re.compile(rb"[0-9]{4,}")
"""A passcode is four or more ASCII digits (§4.2 op 03)."""


class Tokenizer:
    """Turns the plaintexts of one session into templates, learning its secrets as it goes.

    Secret fields are the ones a message layout marks ``secret``
    (docs/architecture.md §11.2); a login challenge becomes a random token; anything a
    secret-bearing command (``secret_commands``) still carries that looks like a passcode
    (four or more ASCII digits) becomes a secret token too. The values stay in memory,
    never in the cassette.
    """

    def __init__(self, *, secret_commands: Iterable[int] = ()) -> None:
        self.secret_commands = frozenset(int(c) for c in secret_commands)
        self.tokens: dict[str, TokenSpec] = {}
        self.random: list[dict[str, Any]] = []
        self._by_value: dict[bytes, str] = {}
        self._credentials: dict[str, bytes] = {}
        self._challenges: list[tuple[str, int]] = []  # this connection's, newest last
        self._counts: dict[str, int] = {}
        self._current: dict[str, str] = {}  # credential role → its token now
        self._used: set[str] = set()  # tokens some template holds
        self.interaction: int | None = None
        """The interaction being tokenised: random entries name it (R1 scripts by it)."""

    def __repr__(self) -> str:
        return f"Tokenizer({len(self.tokens)} tokens)"

    def _draw(self, entry: dict[str, Any]) -> None:
        if self.interaction is not None:
            entry["interaction"] = self.interaction
        self.random.append(entry)

    def know_credentials(
        self, aes_key: bytes | None, admin_ps: int | None, unlock_key: int | None
    ) -> None:
        """Values the harness already holds (a paired lock's lockData)."""
        if aes_key is not None:
            self._credential("aes_key", aes_key)
        if admin_ps is not None:
            self._credential("admin_ps", admin_ps.to_bytes(4, "big"))
        if unlock_key is not None:
            self._credential("unlock_key", unlock_key.to_bytes(4, "big"))

    def new_connection(self) -> None:
        self._challenges.clear()

    def _credential(self, role: str, value: bytes) -> str:
        """The token of credential ``role`` with ``value``: the current one, or — the lock
        was paired again within the recording — a new one (``aes_key2``…)."""
        current = self._current.get(role)
        if current is not None and self._credentials.get(current) == value:
            return current
        if current is None or current not in self._used:
            # First sight, or credentials the harness held that the recording never used
            # (a lock reset since): the token takes the new value.
            name = current or role
            stale = self._credentials.get(name)
            if stale is not None and self._by_value.get(stale) == name:
                del self._by_value[stale]
        else:
            generation = 2
            while f"{role}{generation}" in self.tokens:
                generation += 1
            name = f"{role}{generation}"
        self._current[role] = name
        self._credentials[name] = bytes(value)
        self.tokens[name] = TokenSpec(name, TokenKind.CREDENTIAL, len(value))
        self._by_value[bytes(value)] = name
        return name

    def key_token(self, key: bytes | None) -> str:
        """The token of a lock key (``aes_key`` unless the lock was paired again)."""
        token = self._by_value.get(bytes(key)) if key is not None else None
        if token is None or not token.startswith("aes_key"):
            return "aes_key"
        self._used.add(token)  # a frame under this key: the recording depends on it
        return token

    def _next(self, prefix: str) -> str:
        self._counts[prefix] = self._counts.get(prefix, 0) + 1
        return f"{prefix}{self._counts[prefix]}"

    def _secret(self, value: bytes) -> str:
        known = self._by_value.get(value)
        if known is not None:
            return known
        name = self._next("s")
        digits = value.isdigit()
        self.tokens[name] = TokenSpec(name, TokenKind.SECRET, len(value), digits=digits)
        self._by_value[value] = name
        return name

    def _sum(self, value: bytes) -> str:
        with_ = self._current.get("unlock_key", "unlock_key")
        unlock = self._credentials.get(with_)
        if unlock is not None and len(value) == 4:
            total = int.from_bytes(value, "big")
            for token, challenge in reversed(self._challenges):
                if (challenge + int.from_bytes(unlock, "big")) & 0xFFFF_FFFF == total:
                    name = f"sum{token[1:]}"
                    spec = TokenSpec(name, TokenKind.SUM, 4, of=token, with_=with_)
                    self.tokens.setdefault(name, spec)
                    self._used.add(with_)
                    return name
        return self._secret(value)

    def _credential_field(self, command: int, role: str, value: bytes) -> str:
        """ADD_ADMIN sets the credentials (§4.3); anywhere else a value that is not the
        current one (a wrong password on purpose) is just a secret."""
        current = self._current.get(role)
        if command == LockCommand.ADD_ADMIN or current is None:
            return self._credential(role, value)
        if self._credentials.get(current) == value:
            return current
        return self._secret(value)

    def request(self, command: int, plaintext: bytes) -> Template:
        try:
            message: WireStruct | None = decode_request(command, plaintext)
        except MessageError:
            message = None
        return self._template(command, plaintext, message, offset=0, reply=False)

    def reply(self, plaintext: bytes) -> Template:
        """A lock reply envelope ``[echo][status][data…]`` (§4.1) as a template."""
        if len(plaintext) < 2:
            return Template.literal(plaintext)
        command, status = plaintext[0], plaintext[1]
        message: WireStruct | None = None
        if status == 1:
            try:
                message = decode_reply_data(command, plaintext[2:])
            except MessageError:
                message = None
        return self._template(command, plaintext, message, offset=2, reply=True)

    def _template(
        self,
        command: int,
        plaintext: bytes,
        message: WireStruct | None,
        *,
        offset: int,
        reply: bool,
    ) -> Template:
        spans: list[tuple[bytes, str]] = []
        if isinstance(message, AesKeyReply):
            known = self._current.get("aes_key")
            token = self._credential("aes_key", message.key)
            if token != known or not any(e["token"] == token for e in self.random):
                self._draw({"token": token, "bytes": KEY_SIZE})  # the lock chose it
            spans.append((message.key, token))
        elif isinstance(message, _CHALLENGE_REPLIES):
            token = self._next("r")
            value = message.ps.to_bytes(4, "big")
            self.tokens[token] = TokenSpec(token, TokenKind.RANDOM, 4)
            self._draw({"token": token, "hex": value.hex()})
            self._challenges.append((token, message.ps))
            spans.append((value, token))
        elif message is not None:
            for name, codec_value in _secret_fields(message):
                if codec_value is None:  # cannot be told apart: all of the data is secret
                    data = plaintext[offset:]
                    spans.append((data, self._secret(data)))
                elif name in CREDENTIAL_TOKENS and len(codec_value) == CREDENTIAL_TOKENS[name]:
                    spans.append((codec_value, self._credential_field(command, name, codec_value)))
                elif name == "check_value":
                    spans.append((codec_value, self._sum(codec_value)))
                else:
                    token = self._secret(codec_value)
                    if reply and token not in {e["token"] for e in self.random}:
                        self._draw({"token": token, "bytes": len(codec_value)})
                    spans.append((codec_value, token))
        # Everything already known, wherever it stands (credentials in any command).
        for value, token in list(self._by_value.items()):
            spans.append((value, token))
        mask = _mask(plaintext, spans, offset)
        if command in self.secret_commands:
            text = bytes(b if mask[i] is None else 0 for i, b in enumerate(plaintext))
            for run in _DIGIT_RUN.finditer(text, offset):
                value = plaintext[run.start() : run.end()]
                mask = _mask(plaintext, [(value, self._secret(value))], offset, mask)
        template = _build(plaintext, mask, self.tokens)
        self._used.update(template.token_names)
        return template


def _secret_fields(message: WireStruct) -> Iterator[tuple[str, bytes | None]]:
    """(field name, its wire bytes) of every secret field, nested ones too; ``None`` for
    bytes no codec writes alone (bit-packed fields): then the whole data is secret."""
    for item in message.LAYOUT:
        if not isinstance(item, F):
            continue
        value = getattr(message, item.name)
        if item.secret and value is not None:
            codec = item.codec.inner if isinstance(item.codec, Trailing) else item.codec
            try:
                data = codec.write(value)
            except (MessageError, TypeError, ValueError, AttributeError, NotImplementedError):
                yield item.name, None
                continue
            # A length-prefixed text is found by its text, not its length byte.
            if isinstance(value, str):
                encoded = value.encode("utf-8", "replace")
                data = encoded if encoded and encoded in data else data
            yield item.name, data
        elif isinstance(value, WireStruct):
            yield from _secret_fields(value)
        elif isinstance(value, tuple):
            for entry in value:
                if isinstance(entry, WireStruct):
                    yield from _secret_fields(entry)


def _mask(
    plaintext: bytes,
    spans: list[tuple[bytes, str]],
    offset: int,
    mask: list[str | None] | None = None,
) -> list[str | None]:
    mask = mask if mask is not None else [None] * len(plaintext)
    # Longest values first: an AES key wins over a 4-byte value inside it.
    for value, token in sorted(spans, key=lambda s: -len(s[0])):
        if len(value) < 2:
            continue
        start = plaintext.find(value, offset)
        while start >= 0:
            end = start + len(value)
            if all(m is None for m in mask[start:end]):
                for i in range(start, end):
                    mask[i] = token
            start = plaintext.find(value, end)
    return mask


def _build(plaintext: bytes, mask: list[str | None], tokens: Mapping[str, TokenSpec]) -> Template:
    parts: list[bytes | str] = []
    i = 0
    while i < len(plaintext):
        token = mask[i]
        if token is None:
            j = i
            while j < len(plaintext) and mask[j] is None:
                j += 1
            parts.append(plaintext[i:j])
            i = j
        else:
            parts.append(token)
            i += tokens[token].size
    return Template(tuple(parts), {name: spec.size for name, spec in tokens.items()})


def stand_in(spec: TokenSpec, salt: int = 0) -> bytes:
    """A replay's value for a secret nobody supplied: digits for a passcode, else bytes.

    Deterministic (a replay is reproducible) and never a recorded value (there is none).
    """
    seed = (sum(map(ord, spec.name)) * 7919 + salt * 104729 + 12345) & 0xFFFF_FFFF
    out = bytearray()
    while len(out) < spec.size:
        seed = (seed * 1103515245 + 12345) & 0x7FFF_FFFF
        out.append(0x30 + seed % 10 if spec.digits else (seed >> 8) & 0xFF)
    if spec.digits and out[:1] == b"0":
        out[0] = 0x31  # a passcode that starts with 0 is legal, but some presets frown
    return bytes(out)


def compare_outcomes(recorded: Cassette, replayed: Cassette) -> list[ReplayMismatch]:
    """Where the harness ended a replayed interaction differently from the recording.

    The replayed cassette is what a recorder saw while the cassette played the lock: the
    same requests (the player checked them) must end with the same outcome and code.
    """
    problems: list[ReplayMismatch] = []
    for before, after in zip(recorded.interactions, replayed.interactions, strict=False):
        if (before.outcome, before.code) != (after.outcome, after.code):
            problems.append(
                ReplayMismatch(
                    "the harness ended it differently",
                    interaction=before.n,
                    command=before.command,
                    expected=f"{before.outcome} (code {before.code})",
                    actual=f"{after.outcome} (code {after.code})",
                )
            )
    if len(replayed.interactions) < len(recorded.interactions):
        missing = recorded.interactions[len(replayed.interactions)]
        problems.append(
            ReplayMismatch(
                f"the harness stopped after {len(replayed.interactions)} of "
                f"{len(recorded.interactions)} interactions",
                interaction=missing.n,
                command=missing.command,
                expected=f"request {command_label(missing.command)}",
                actual="no request",
            )
        )
    return problems


_ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?"
    r"(?:Z|[+-]\d{2}:\d{2})?"
)


def _iso_year(text: str) -> int | None:
    """The year of an ISO date and time (``None`` when ``text`` is not one), checked on the
    calendar by arithmetic: protocol/ stays free of ``datetime`` (tests/unit/protocol/
    test_purity.py)."""
    match = _ISO_TIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not (1 <= month <= 12 and 1 <= day <= days[month - 1]):
        return None
    if not (hour < 24 and minute < 60 and second < 60):
        return None
    return year

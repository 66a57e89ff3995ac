"""``ttlock-hil codes``: browse the TTLock error-code registry.

``codes list [--plugin-version V] [--category C] [--json]`` lists codes (all of
them, or those valid in plugin V and/or of one category); ``--json`` prints a
list of ``{code, zh, en, since, absent, category}`` objects, a stable contract.
``codes show CODE [--plugin-version V] [--json]`` explains one code and whether
it exists in plugin V (default :data:`ttlock_hil.protocol.codes.DEFAULT_PLUGIN_VERSION`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ttlock_hil.harness.cli import CliError
from ttlock_hil.protocol.codes import (
    DEFAULT_PLUGIN_VERSION,
    Category,
    ErrorCode,
    PluginVersion,
    all_codes,
    by_category,
    lookup,
    parse_category,
    valid_in,
)


def register(subparsers: Any) -> None:
    """Add the ``codes`` group to the top-level ``ttlock-hil`` parser."""
    codes = subparsers.add_parser(
        "codes",
        help="look up TTLock error codes",
        description="Browse the TTLock (WeChat plugin) error-code registry.",
    )
    sub = codes.add_subparsers(dest="codes_command", required=True, metavar="{list,show}")

    categories = ", ".join(c.value for c in Category)
    list_cmd = sub.add_parser("list", help="list codes", description="List error codes.")
    list_cmd.add_argument(
        "--plugin-version",
        metavar="V",
        help="only codes valid in plugin version V (MAJOR.MINOR.PATCH, e.g. 3.1.0)",
    )
    list_cmd.add_argument(
        "--category", metavar="C", help=f"only codes of category C (one of: {categories})"
    )
    list_cmd.add_argument("--json", action="store_true", help="print a JSON list")
    list_cmd.set_defaults(handler=list_codes)

    show_cmd = sub.add_parser("show", help="explain one code", description="Explain one code.")
    show_cmd.add_argument("code", metavar="CODE", help="the code in decimal, e.g. 30 or -3")
    show_cmd.add_argument(
        "--plugin-version",
        metavar="V",
        default=DEFAULT_PLUGIN_VERSION,
        help=f"plugin version to check validity against (default {DEFAULT_PLUGIN_VERSION})",
    )
    show_cmd.add_argument("--json", action="store_true", help="print a JSON object")
    show_cmd.set_defaults(handler=show_code)


def _summary(entry: ErrorCode) -> dict[str, Any]:
    return {
        "code": entry.code,
        "zh": entry.zh,
        "en": entry.en,
        "since": str(entry.since) if entry.since is not None else None,
        "absent": str(entry.absent) if entry.absent is not None else None,
        "category": entry.category.value,
    }


def list_codes(args: argparse.Namespace) -> int:
    """Handler of ``codes list``."""
    entries = all_codes() if args.plugin_version is None else valid_in(args.plugin_version)
    if args.category is not None:
        wanted = {e.code for e in by_category(parse_category(args.category))}
        entries = [e for e in entries if e.code in wanted]
    if args.json:
        print(json.dumps([_summary(e) for e in entries], indent=2, ensure_ascii=False))
        return 0
    print(f"{'CODE':>6}  {'SINCE':<6}  {'ABSENT':<6}  {'CATEGORY':<21}  EN / ZH")
    for e in entries:
        since = str(e.since) if e.since is not None else "-"
        absent = str(e.absent) if e.absent is not None else "-"
        print(f"{e.code:>6}  {since:<6}  {absent:<6}  {e.category.value:<21}  {e.en} / {e.zh}")
    print(f"{len(entries)} code(s)")
    return 0


def _parse_code(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise CliError(
            f"CODE must be a decimal integer such as 30 or -3, got {text!r}; "
            "`ttlock-hil codes list` shows every code"
        ) from None


def _validity(entry: ErrorCode, version: PluginVersion) -> str:
    if entry.is_valid_in(version):
        return "yes"
    if entry.since is not None and version < entry.since:
        return f"no (introduced in {entry.since})"
    return f"no (absent from {entry.absent})"


def show_code(args: argparse.Namespace) -> int:
    """Handler of ``codes show``."""
    version = PluginVersion.parse(args.plugin_version)
    entry = lookup(_parse_code(args.code))
    if args.json:
        document = _summary(entry) | {
            "name": entry.name,
            "zh_corrected": entry.zh_corrected,
            "note": entry.note,
            "plugin_version": str(version),
            "valid": entry.is_valid_in(version),
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    rows = [("category", entry.category.value), ("zh", entry.zh)]
    if entry.zh_corrected is not None:
        rows.append(("zh (corrected)", entry.zh_corrected))
    rows += [
        ("en", entry.en),
        ("since", str(entry.since) if entry.since is not None else "(the beginning)"),
        ("absent from", str(entry.absent) if entry.absent is not None else "(still present)"),
    ]
    if entry.note is not None:
        rows.append(("note", entry.note))
    rows.append((f"valid in plugin {version}", _validity(entry, version)))
    width = max(len(label) for label, _ in rows) + 1
    lines = [f"{entry.code} {entry.name}"]
    lines += [f"  {label + ':':<{width}} {value}" for label, value in rows]
    print("\n".join(lines))
    return 0

"""The YAML side of the lab config: reading a document safely and turning every problem
into one line that names file, line, field and fix.

:mod:`ttlock_hil.harness.config` declares what a lab config is (the schema); this
module knows YAML: where each key stands, duplicate keys (PyYAML silently keeps the
last), and how a pydantic validation error reads to a lab engineer::

    hil-config.yaml:14: devices[1].adress: unknown key — fix: did you mean 'address'?
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError

__all__ = ["YamlDocument", "config_error", "did_you_mean", "read_yaml_document"]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """A parsed config file: its node tree (with line marks), its data, each key's line."""

    root: yaml.MappingNode
    data: dict[str, Any]
    lines: dict[str, int]


LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (about 20 times faster), else PyYAML's."""

MAX_DEPTH: Final = 32
"""A lab config is a few levels deep; deeper nesting is a mistake (or an attack)."""

MAX_VALUES: Final = 20_000
"""Values a config may expand to through aliases: a bench of hundreds of devices fits,
a "billion laughs" bomb does not (it is refused before anything walks it)."""


def read_yaml_document(text: str, *, file: Path, example: str) -> YamlDocument:
    """Parse ``text`` as one YAML mapping; any problem is a :class:`ConfigError`.

    The node tree is checked before anything walks or constructs it: nesting deeper
    than :data:`MAX_DEPTH`, an alias that refers to itself, or more than
    :data:`MAX_VALUES` values once aliases are expanded are refused at once.
    """
    loader: Any = None
    try:
        loader = LOADER(text)
        root = loader.get_single_node()
        if root is not None:
            _check_shape(root, file)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark is not None else None,
            fix="check indentation, colons and quotes on this line and the one before",
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        raise ConfigError(
            f"the file holds a control character (#x{exc.character:04x}, e.g. NUL) YAML does "
            "not allow",
            file=file,
            line=line,
            fix="save the file as plain UTF-8 text without control characters",
        ) from None
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise ConfigError(
            f"YAML error: {problem}", file=file, fix="check the file is plain YAML text"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"the YAML is nested deeper than {MAX_DEPTH} levels",
            file=file,
            fix="a lab config is a few levels deep: look for runaway brackets",
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        raise ConfigError("the file is empty", file=file, fix=f"start from {example}")
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise ConfigError(
            "the top level must be a mapping of key: value lines",
            file=file,
            line=root.start_mark.line + 1,
            fix=f"start from {example}",
        )
    _reject_duplicate_keys(root, (), file)
    return YamlDocument(root, data, _field_lines(root))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_shape(root: yaml.Node, file: Path) -> None:
    """Depth, self-reference and expanded size, without recursion and without expanding.

    Each node is measured once (aliases share nodes), so the check takes time in the
    size of the file, not of what the aliases would expand to.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, finished = stack.pop()
        key = id(node)
        line = node.start_mark.line + 1
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_VALUES:
                raise ConfigError(
                    f"the YAML expands to more than {MAX_VALUES} values through aliases",
                    file=file,
                    line=line,
                    fix="write the values out, or use fewer aliases (*name) of aliases",
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ConfigError(
                "an alias refers to itself (a recursive structure)",
                file=file,
                line=line,
                fix="an alias (*name) may only refer to an anchor (&name) outside itself",
            )
        if depth > MAX_DEPTH:
            raise ConfigError(
                f"the YAML is nested deeper than {MAX_DEPTH} levels",
                file=file,
                line=line,
                fix="a lab config is a few levels deep: look for runaway brackets",
            )
        on_path.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A fix that names the closest choice, or lists them all."""
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    shown = ", ".join(options[:_LISTED])
    more = len(options) - _LISTED
    return "use one of: " + shown + (f" (+{more} more)" if more > 0 else "")


Loc = tuple[str | int, ...]
_LISTED: Final = 10  # choices named in a fix: a bench of 20 000 devices is not listed


def _field_name(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _reject_duplicate_keys(node: yaml.Node, loc: Loc, file: Path) -> None:
    # PyYAML keeps the last of two equal keys silently; a lab config must not.
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                raise ConfigError(
                    f"key {name!r} appears twice (first on line {seen[name]})",
                    file=file,
                    line=key.start_mark.line + 1,
                    field=_field_name((*loc, name)),
                    fix="keep one of them",
                )
            seen[name] = key.start_mark.line + 1
            _reject_duplicate_keys(value, (*loc, name), file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _reject_duplicate_keys(item, (*loc, index), file)


def _field_lines(root: yaml.Node) -> dict[str, int]:
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, loc: Loc) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*loc, str(key.value))
                lines[_field_name(child)] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*loc, index)
                lines[_field_name(child)] = item.start_mark.line + 1
                walk(item, child)

    walk(root, ())
    return lines


def _locate(root: yaml.Node, loc: Loc) -> tuple[int, Loc]:
    """The line of the deepest YAML node on ``loc`` and the part of ``loc`` found."""
    node = root
    line = root.start_mark.line + 1
    found: list[str | int] = []
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if str(k.value) == part), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1  # the key's line reads best
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
        found.append(part)
    return line, tuple(found)


def _model_at(root_model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``loc`` (for key suggestions)."""
    model: type[BaseModel] = root_model
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        inner = _find_model(field.annotation)
        if inner is None:
            return None
        model = inner
    return model


def _find_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if arg is Ellipsis or arg is types.NoneType:
            continue
        found = _find_model(arg)
        if found is not None:
            return found
    return None


_TYPE_FIXES: Final[Mapping[str, str]] = {
    "float_parsing": "use a number such as 10.0",
    "float_type": "use a number such as 10.0",
    "int_parsing": "use a whole number such as 3",
    "int_type": "use a whole number such as 3",
    "int_from_float": "use a whole number such as 3",
    "bool_parsing": "use true or false",
    "bool_type": "use true or false",
    "string_type": "use a string (quote it if it looks like a number)",
    "string_too_short": "give a non-empty value",
    "list_type": "use a YAML list: one '- item' per line, or [a, b]",
    "tuple_type": "use a YAML list: one '- item' per line, or [a, b]",
    "model_type": "use a mapping of key: value lines",
    "model_attributes_type": "use a mapping of key: value lines",
    "dict_type": "use a mapping of key: value lines",
    "path_type": "use a path such as reports/",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
}


def config_error(
    exc: ValidationError,
    root: yaml.Node,
    file: Path,
    root_model: type[BaseModel],
    *,
    example: str,
) -> ConfigError:
    """One :class:`ConfigError` for a failed validation: file, line, field and fix."""
    errors = exc.errors(include_url=False)
    # An unknown key usually explains a "missing" one (a typo): report it first;
    # otherwise the topmost problem in the file, as one fixes a file top down.
    first = min(
        errors,
        key=lambda e: (e["type"] != "extra_forbidden", _locate(root, tuple(e["loc"]))[0]),
    )
    loc: Loc = tuple(first["loc"])
    ctx = first.get("ctx") or {}
    kind = first["type"]
    message = first["msg"]
    fix: str | None = None
    if kind == "hil_config":
        loc = (*loc, *ctx.get("at", ()))
        message = str(ctx["reason"])
        fix = str(ctx["fix"])
    line, found = _locate(root, loc)
    field = found
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(root_model, loc[:-1])
        message = "unknown key"
        fix = did_you_mean(key, model.model_fields) if model is not None else f"remove {key!r}"
    elif kind == "missing":
        missing = loc[len(found)] if len(loc) > len(found) else loc[-1]
        field = (*found, missing)
        message = "required key missing"
        model = _model_at(root_model, found)
        sample = _example(model, str(missing))
        fix = f"add '{missing}: {sample}'" if sample is not None else f"add '{missing}:'"
    elif kind in ("enum", "literal_error"):
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        value = first.get("input")
        message = f"{value!r} is not one of {', '.join(expected)}"
        fix = did_you_mean(str(value), expected) if expected else "use one of the listed values"
    elif fix is None:
        fix = _TYPE_FIXES.get(kind, f"see {example} for a valid example")
        if kind in ("greater_than", "greater_than_equal", "less_than_equal") and ctx:
            bound = next(iter(ctx.values()))
            fix = {
                "greater_than": f"use a value above {bound}",
                "greater_than_equal": f"use {bound} or more",
                "less_than_equal": f"use {bound} or less",
            }[kind]
    more = len(errors) - 1
    if more:
        message += f" (+{more} more problem{'s' if more > 1 else ''})"
    return ConfigError(message, file=file, line=line, field=_field_name(field) or None, fix=fix)


def _example(model: type[BaseModel] | None, field: str) -> str | None:
    if model is None or field not in model.model_fields:
        return None
    examples = model.model_fields[field].examples
    return str(examples[0]) if examples else None

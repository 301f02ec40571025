"""Typed options: TOML tables checked against a component's frozen options dataclass.

A component declares its options as a frozen dataclass with defaults, e.g.::

    @dataclass(frozen=True)
    class SimCLROptions:
        temperature: float = 0.5   # NT-Xent temperature τ (Chen et al., 2020)

        def __post_init__(self) -> None:
            if self.temperature <= 0:
                raise ValueError("must be > 0")

and :func:`build_options` turns ``{"temperature": 0.2}`` from a config file into
``SimCLROptions(temperature=0.2)``, or raises :class:`OptionError` naming the key and
what is allowed. ``__post_init__`` may raise ``ValueError("...")`` for impossible
values; the message is reported against the config key (or the first field named in
it, when the message starts with ``"<field>: "``).
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin

INT_LIMIT = 2**53
"""Largest magnitude of any integer option: beyond it JSON readers lose digits and int64 math overflows."""
SIZE_LIMIT = 2**16
"""Largest width, depth, head or layer count (an option named like ``width``, ``*_dim``, ``depth``)."""
SIZE_NAME = re.compile(r"(^|_)(width|dim|depth|heads|layers|channels|hidden|ff_mult)($|_)")


class OptionError(ValueError):
    """An option value or name is not allowed. ``key`` is the offending option."""

    def __init__(self, key: str, problem: str) -> None:
        self.key, self.problem = key, problem
        super().__init__(f"{key}: {problem}" if key else problem)


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """Options of a component that takes none."""


def option_fields(options_type: type) -> dict[str, dataclasses.Field]:
    """Name → field of an options dataclass, with string annotations resolved."""
    hints = typing.get_type_hints(options_type)
    fields = {f.name: f for f in dataclasses.fields(options_type) if f.init}
    for name, field in fields.items():
        field.type = hints[name]
    return fields


def did_you_mean(name: str, valid: typing.Iterable[str]) -> str:
    """`` (did you mean 'steps'?)`` for the closest valid name (difflib's ratio >= 0.6), else ``""``."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def build_options(options_type: type, values: Mapping[str, Any]) -> Any:
    """Validate ``values`` against ``options_type`` and return an instance of it.

    Raises:
        OptionError: unknown key (listing the known ones), wrong type, or a value
            that the dataclass's ``__post_init__`` refuses.
    """
    fields = option_fields(options_type)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        allowed = ", ".join(sorted(fields)) or "none"
        raise OptionError(unknown[0], f"unknown option; allowed: {allowed}{did_you_mean(unknown[0], fields)}")
    checked = {name: coerce(name, fields[name].type, value) for name, value in values.items()}
    try:
        return options_type(**checked)
    except (ValueError, TypeError) as err:
        raise _post_init_error(str(err), fields) from None


def options_as_dict(options: Any) -> dict[str, Any]:
    """The options instance as plain JSON-able values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()}


def non_default(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` less every key whose value equals its default (as JSON holds them: tuples are lists);
    keys without a default stay. What identifies a component's options in results and configs."""
    return {k: v for k, v in values.items() if k not in defaults or as_json(v) != as_json(defaults[k])}


def as_json(value: Any) -> Any:
    """``value`` as JSON holds it: tuples become lists, mappings dicts (for comparing with a parsed record)."""
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: as_json(v) for k, v in value.items()}
    return value


def describe_options(options_type: type) -> dict[str, str]:
    """Name → ``"type = default"`` for listings (``sslbench list``)."""
    out = {}
    for name, field in option_fields(options_type).items():
        default = field.default if field.default is not dataclasses.MISSING else "required"
        out[name] = f"{type_name(field.type)} = {default!r}"
    return out


def coerce(key: str, annotation: Any, value: Any) -> Any:
    """Check ``value`` against ``annotation``; return it in the declared type.

    Supported annotations: bool, int, float, str, ``Literal[...]``, ``X | None``,
    ``tuple[X, ...]``, ``tuple[X, Y]`` and ``Any``.
    """
    origin = get_origin(annotation)
    if annotation is Any:
        _check_finite(key, value)
        return value
    if origin is Literal:
        choices = get_args(annotation)
        if value not in choices:
            raise OptionError(key, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    if origin in (types.UnionType, typing.Union):
        return _coerce_union(key, annotation, value)
    if origin is tuple:
        return _coerce_tuple(key, annotation, value)
    return _coerce_scalar(key, annotation, value)


def type_name(annotation: Any) -> str:
    """A short human name for an annotation (``int``, ``float | None``, ``'a' | 'b'``)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(c) for c in get_args(annotation))
    if origin in (types.UnionType, typing.Union):
        return " | ".join(type_name(a) for a in get_args(annotation))
    if origin is tuple:
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {type_name(args[0])}"
        return "list of " + ", ".join(type_name(a) for a in args)
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def _coerce_scalar(key: str, annotation: Any, value: Any) -> Any:
    # bool is a subclass of int in Python; a TOML `true` must not pass as an int.
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is int and isinstance(value, int) and not isinstance(value, bool):
        limit = SIZE_LIMIT if SIZE_NAME.search(key) else INT_LIMIT
        if abs(value) > limit:
            raise OptionError(key, f"must be an integer within ±{limit:_}, got {value}")
        return value
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            number = math.inf
        if not math.isfinite(number):
            raise OptionError(key, f"must be a finite number, got {value!r}")
        return number
    if annotation is str and isinstance(value, str):
        return value
    raise OptionError(key, f"must be {type_name(annotation)}, got {_show(value)}")


def _coerce_union(key: str, annotation: Any, value: Any) -> Any:
    for arg in get_args(annotation):
        if arg is type(None):
            continue
        try:
            return coerce(key, arg, value)
        except OptionError:
            pass
    raise OptionError(key, f"must be {type_name(annotation)}, got {_show(value)}")


def _coerce_tuple(key: str, annotation: Any, value: Any) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise OptionError(key, f"must be a {type_name(annotation)}, got {_show(value)}")
    args = get_args(annotation)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(coerce(key, args[0], v) for v in value)
    if len(value) != len(args):
        raise OptionError(key, f"must be a list of {len(args)} values ({type_name(annotation)}), got {_show(value)}")
    return tuple(coerce(key, a, v) for a, v in zip(args, value))


def _check_finite(key: str, value: Any) -> None:
    """Refuse NaN and infinities anywhere inside a free-form (``Any``) option value."""
    if isinstance(value, float) and not math.isfinite(value):
        raise OptionError(key, f"must be a finite number, got {value!r}")
    if isinstance(value, dict):
        for v in value.values():
            _check_finite(key, v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_finite(key, v)


def _post_init_error(message: str, fields: Mapping[str, Any]) -> OptionError:
    head, sep, rest = message.partition(": ")
    if sep and head in fields:
        return OptionError(head, rest)
    return OptionError("", message)


def _show(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "list", dict: "table"}
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"

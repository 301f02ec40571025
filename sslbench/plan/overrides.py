"""``key=value`` overrides from the command line, applied to a config's TOML before validation.

``sslbench run CONFIG run.steps=50 grid.tasks=["simclr"] tasks.simclr.temperature=0.2`` sets
each dotted key in the parsed TOML, as if the file said so, and the config is then validated
exactly as a file is (the same one-line errors, with did-you-mean). Keys are TOML keys: a
name holding a dot is quoted as TOML writes it (``models."bert.tiny".layers=2``); values are
TOML values (``5``, ``0.2``, ``"cpu"``, ``["a", "b"]``, ``true``).

``grid.`` keys reach the one ``[grid]`` table; in a config of several ``[[grid]]`` tables the
second part names the grid (``grid.image.run.steps=10``, or its position: ``grid.2.run.steps``),
and a key that names none is refused, listing the grids. A component's table
(``tasks.simclr.…``) overrides that component only: a variant of it has its own table.
Overrides change the config, so its identity and hash follow; the manifest records them.
"""
from __future__ import annotations

import copy
import tomllib
from collections.abc import Sequence
from typing import Any

from sslbench.errors import ConfigError
from sslbench.options import did_you_mean

GRID_KEYS = ("name", "datasets", "tasks", "models", "evaluators", "run")
"""Keys of a ``[grid]`` table: a ``grid.`` override whose second part is one of them names no grid."""


def apply_overrides(where: str, raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``raw`` (a parsed config) with each ``key=value`` of ``overrides`` set, in order; ``raw`` is not changed.

    Raises:
        ConfigError: an override that is not ``key=value``, a key or value that is not TOML, a
            ``grid.`` key that names no grid of several, a key through a value that is no table.
    """
    out = copy.deepcopy(raw)
    for text in overrides:
        path, value = parse_override(where, text)
        if path[0] == "grid":
            path = _grid_path(where, out, path)
        _set(where, out, path, value)
    return out


def parse_override(where: str, text: str) -> tuple[tuple[str | int, ...], Any]:
    """``'tasks."a.b".lr=0.1'`` → ``(("tasks", "a.b", "lr"), 0.1)``: the key's parts and the TOML value."""
    split = _split_at_equals(text)
    if split is None:
        raise ConfigError(where, text, "an override must be key=value, e.g. run.steps=50 or grid.tasks=[\"simclr\"]")
    key, value_text = split
    try:
        parsed_key = tomllib.loads(f"{key} = 0")
        if "\n" in key or "\r" in key:
            raise tomllib.TOMLDecodeError("a key holds a line break")
    except tomllib.TOMLDecodeError:
        raise ConfigError(where, key, "is no TOML key: parts are separated by dots, a name holding a dot "
                          "or another sign is quoted, e.g. models.\"bert.tiny\".layers=2") from None
    path: list[str] = []
    node: Any = parsed_key
    while isinstance(node, dict):
        (name, node), = node.items()
        path.append(name)
    try:
        parsed = tomllib.loads(f"v = {value_text}")
        if list(parsed) != ["v"]:  # e.g. '1\nx = 2': a second key smuggled in after a line break
            raise tomllib.TOMLDecodeError("more than one value")
        value = parsed["v"]
    except tomllib.TOMLDecodeError as err:
        hint = (f"; a TOML string is quoted, in a shell: {key}='\"{value_text}\"'"
                if value_text and value_text[0] not in "\"'[{" else "")
        raise ConfigError(where, key, f"the value {value_text!r} is no TOML value ({err}){hint}") from None
    return tuple(path), value


def _split_at_equals(text: str) -> tuple[str, str] | None:
    """``text`` cut at its first ``=`` outside quotes, both parts stripped (None: there is none, or no key)."""
    quote = ""
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "=":
            key, value = text[:i].strip(), text[i + 1:].strip()
            return (key, value) if key else None
    return None


def _grid_path(where: str, raw: dict[str, Any], path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """A ``grid.`` key's path into ``raw``: ``("grid", i, …)`` into the i-th of several grids, or
    ``("grid", …)`` into the one ``[grid]`` table (a leading name of that grid is dropped)."""
    grids = raw.get("grid")
    key = ".".join(map(str, path))
    if not isinstance(grids, list) or len(grids) == 1:
        one = grids[0] if isinstance(grids, list) else grids
        name = one.get("name") if isinstance(one, dict) else None
        rest = path[2:] if len(path) > 2 and path[1] == name and path[1] not in GRID_KEYS else path[1:]
        return ("grid", 0, *rest) if isinstance(grids, list) else ("grid", *rest)
    names = [g.get("name", "") if isinstance(g, dict) else "" for g in grids]
    shown = ", ".join(repr(n) if n else f"#{i + 1}" for i, n in enumerate(names))
    which = str(path[1]) if len(path) > 1 else ""
    example = f"grid.{names[0] or 1}.run.steps=10"
    if which in GRID_KEYS and which not in names:
        raise ConfigError(where, key, f"is ambiguous: this config has {len(grids)} grids ({shown}); "
                          f"name one, e.g. grid.{names[0] or 1}.{'.'.join(map(str, path[1:]))}")
    if which in names:
        index = names.index(which)
    elif which.isdigit() and 1 <= int(which) <= len(grids):
        index = int(which) - 1
    else:
        raise ConfigError(where, key, f"names no grid of this config; its grids: {shown}"
                          f"{did_you_mean(which, [n for n in names if n])}; write grid.<name>.<key>, e.g. {example}")
    if len(path) < 3:
        raise ConfigError(where, key, f"names no key inside grid {shown.split(', ')[index]}; e.g. {example}")
    return ("grid", index, *path[2:])


def _set(where: str, raw: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    """Set ``raw[path[0]][path[1]]… = value``, creating missing tables on the way."""
    node: Any = raw
    for depth, part in enumerate(path[:-1]):
        child = node[part] if isinstance(node, list) else node.setdefault(part, {})
        if not isinstance(child, (dict, list)) or (isinstance(child, list) and not isinstance(path[depth + 1], int)):
            shown = ".".join(str(p) for p in path[:depth + 1])
            raise ConfigError(where, shown, f"is a value ({type(child).__name__}), not a table: cannot set "
                              f"{'.'.join(map(str, path))} inside it")
        node = child
    node[path[-1]] = value

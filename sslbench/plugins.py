"""The plugin manager: entry-point discovery, blocking, explicit plugins, validation.

Modelled on pytest's: one entry-point group (``sslbench``), an environment variable
that turns autoloading off (``SSLBENCH_DISABLE_PLUGIN_AUTOLOAD=1``), ``-p no:NAME``
to block a plugin by its entry-point name, ``-p MODULE`` to load one explicitly, and
``check_pending()`` so that a misspelt hook fails at start.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

import pluggy

from sslbench import hookspecs
from sslbench.errors import PluginError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "sslbench"
AUTOLOAD_ENV = "SSLBENCH_DISABLE_PLUGIN_AUTOLOAD"


def autoload_enabled() -> bool:
    """False when ``SSLBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set to a non-empty value."""
    return not os.environ.get(AUTOLOAD_ENV)


def parse_plugin_args(values: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``-p`` values into (names to block, modules to load).

    ``no:NAME`` blocks plugin NAME, ``no:PLUGIN:NAME`` one component of it (the
    registry leaves it out); anything else is an importable module to register.
    """
    blocked = [v[3:] for v in values if v.startswith("no:")]
    modules = [v for v in values if not v.startswith("no:")]
    return blocked, modules


def make_plugin_manager(
    *,
    blocked: Iterable[str] = (),
    modules: Iterable[str] = (),
    plugins: Iterable[Any] = (),
    autoload: bool | None = None,
) -> pluggy.PluginManager:
    """Create a plugin manager with the sslbench hooks and the requested plugins.

    Args:
        blocked: entry-point or plugin names never to load (``-p no:NAME``); a
            ``PLUGIN:NAME`` leaves out one component instead (``-p no:PLUGIN:NAME``): it
            is kept as ``pm.sslbench_blocked_components`` for the registry.
        modules: importable module names to register as plugins (``-p MODULE``).
        plugins: plugin objects to register directly (tests, embedding programs).
        autoload: load every ``sslbench`` entry point; default from the environment.

    Raises:
        PluginError: a plugin fails to import, implements an unknown hook or
            a hook with arguments its spec lacks, or a blocked name matches nothing.
    """
    pm = pluggy.PluginManager("sslbench")
    pm.add_hookspecs(hookspecs)
    blocked = list(blocked)
    pm.sslbench_blocked_components = [b for b in blocked if ":" in b]  # type: ignore[attr-defined]
    blocked = [b for b in blocked if ":" not in b]
    for name in blocked:
        pm.set_blocked(name)
    known_names: set[str] = set()
    if autoload_enabled() if autoload is None else autoload:
        known_names |= _load_entry_points(pm)
    for module in modules:
        _register(pm, _import_plugin(module), module)
    for plugin in plugins:
        _register(pm, plugin, None)
    _check_blocked_names(blocked, known_names | {n for n, p in pm.list_name_plugin() if p is not None})
    _check_pending(pm)
    return pm


def plugin_versions(pm: pluggy.PluginManager) -> dict[str, str]:
    """Plugin name → ``distribution==version`` for plugins loaded from entry points,
    or ``"unpackaged"`` for plugins registered directly."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    out = {}
    for name, plugin in pm.list_name_plugin():
        if plugin is None or getattr(plugin, "sslbench_internal", False):  # blocked, or sslbench's own observer
            continue
        dist = dists.get(id(plugin))
        out[name] = f"{dist.metadata['Name']}=={dist.version}" if dist else "unpackaged"
    return out


def _load_entry_points(pm: pluggy.PluginManager) -> set[str]:
    """Load every entry point of the group, skipping blocked names.

    Mirrors ``PluginManager.load_setuptools_entrypoints`` but reports a plugin that
    fails to import with its name and distribution instead of a bare traceback.
    Returns every entry-point name seen, blocked ones included.
    """
    seen: set[str] = set()
    for dist in list(importlib.metadata.distributions()):
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP:
                continue
            seen.add(ep.name)
            if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as err:  # any import-time failure of third-party code
                dist_name = dist.metadata["Name"]
                raise PluginError(
                    f"plugin {ep.name!r} ({ep.value}, from {dist_name}) failed to load: "
                    f"{type(err).__name__}: {err}; block it with -p no:{ep.name}"
                ) from None
            _register(pm, plugin, ep.name)
            pm._plugin_distinfo.append((plugin, dist))  # type: ignore[attr-defined]  # as pluggy itself does
    return seen


def _import_plugin(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise PluginError(f"-p {module}: cannot import plugin module ({err}); the plugin may not be installed") from None
    except SyntaxError as err:
        raise PluginError(f"-p {module}: the plugin module does not parse ({err.msg} in {err.filename}, "
                          f"line {err.lineno})") from None
    except Exception as err:  # a plugin that raises on import is the plugin's bug, reported in one line
        first = str(err).splitlines()[0] if str(err) else ""
        raise PluginError(f"-p {module}: importing the plugin module raised {type(err).__name__}: {first}") from None


def _register(pm: pluggy.PluginManager, plugin: Any, name: str | None) -> None:
    try:
        registered = pm.register(plugin, name=name)
    except pluggy.PluginValidationError as err:
        raise PluginError(f"plugin {err.plugin!r}: {_first_line(err)}") from None
    except ValueError as err:  # already registered under this name
        raise PluginError(f"plugin {name or plugin!r}: {err}") from None
    for warning in unmarked_hooks(plugin, registered or name or str(plugin)):
        log.warning("%s", warning)


def unmarked_hooks(plugin: Any, name: str) -> list[str]:
    """One warning per function named ``sslbench_*`` that lacks ``@hookimpl``: pluggy ignores
    such functions silently, and the components they return are "unknown" later."""
    out = []
    for attr in sorted(dir(plugin)):
        if not attr.startswith("sslbench_"):
            continue
        value = getattr(plugin, attr, None)
        if inspect.isroutine(value) and not hasattr(value, "sslbench_impl"):
            out.append(f"plugin {name!r}: function {attr} has no @hookimpl, so sslbench ignores it; "
                       "decorate it with @sslbench.hookimpl")
    return out


def _check_blocked_names(blocked: Sequence[str], known: set[str]) -> None:
    unknown = [name for name in blocked if name not in known]
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise PluginError(f"-p no:{unknown[0]}: no plugin named {unknown[0]!r}; plugins: {names}")


def _check_pending(pm: pluggy.PluginManager) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as err:
        raise PluginError(f"{_first_line(err)}; known hooks: {', '.join(_hook_names())}") from None


def _hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("sslbench_"))


def _first_line(err: Exception) -> str:
    return " ".join(str(err).split())

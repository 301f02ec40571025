"""Fakes for testing plugins: in-memory distributions, inline plugins, fresh registries.

The habits of pluggy's and pytest's own tests (STYLE.md row 13): every test gets a
fresh plugin manager, plugins are written inline, and entry points come from a fake
:class:`importlib.metadata.Distribution` instead of whatever happens to be installed.
"""
from __future__ import annotations

import importlib.metadata
import types
from collections.abc import Callable, Iterable
from typing import Any

from sslbench.plugins import ENTRY_POINT_GROUP, make_plugin_manager
from sslbench.registry import Registry


class FakeDistribution(importlib.metadata.Distribution):
    """A distribution that exists only in memory, with entry points in the ``sslbench`` group.

    Args:
        name: the distribution's name (what ``plugin_versions`` reports).
        entry_points: entry-point name → importable module, e.g. ``{"blobs": "my_pkg.hooks"}``.
        version: the distribution's version.
    """

    def __init__(self, name: str, entry_points: dict[str, str], version: str = "1.2.3") -> None:
        lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
        self._files = {
            "METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            "entry_points.txt": f"[{ENTRY_POINT_GROUP}]\n{lines}",
        }

    def read_text(self, filename: str) -> str | None:
        """The metadata file ``filename``, or None (as for a file the distribution lacks)."""
        return self._files.get(filename)

    def locate_file(self, path: Any) -> Any:
        """Nothing is on disk; paths are returned unchanged."""
        return path


def install_distributions(monkeypatch: Any, *dists: importlib.metadata.Distribution) -> None:
    """Make ``importlib.metadata.distributions()`` return exactly ``dists`` for this test.

    ``monkeypatch`` is pytest's fixture; the real distributions come back after the test.
    """
    monkeypatch.setattr(importlib.metadata, "distributions", lambda **_: list(dists))


def inline_plugin(name: str, **hooks: Callable[..., Any]) -> types.ModuleType:
    """A plugin module called ``name`` whose hook implementations are ``hooks``.

    Each keyword is a hook name (``sslbench_register_tasks=lambda: [TaskSpec(...)]``);
    the function is marked with ``sslbench.hookimpl`` here, so plain lambdas work.
    """
    from sslbench import hookimpl

    module = types.ModuleType(name)
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    return module


def make_registry(*plugins: Any, modules: Iterable[str] = (), autoload: bool = False,
                  blocked: Iterable[str] = ()) -> Registry:
    """A registry from a fresh plugin manager.

    Args:
        plugins: plugin objects (modules, :func:`inline_plugin` results) to register.
        modules: importable modules to register as plugins (``-p MODULE``).
        autoload: also load every installed ``sslbench`` entry point.
        blocked: plugin names never to load (``-p no:NAME``), or single components
            to leave out as ``PLUGIN:NAME`` (``-p no:PLUGIN:NAME``).
    """
    pm = make_plugin_manager(autoload=autoload, modules=modules, plugins=plugins, blocked=blocked)
    return Registry(pm)

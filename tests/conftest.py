"""Shared fixtures: fresh plugin managers and registries, and a tiny inline plugin."""
from __future__ import annotations

import pytest

from sslbench.plugins import make_plugin_manager
from sslbench.registry import Registry

BUILTIN_MODULES = ("sslbench_image.plugin", "sslbench_eval.plugin")


@pytest.fixture
def make_registry():
    """Build a registry from a fresh plugin manager: built-ins (by module) plus extras."""

    def make(*plugins, builtins: bool = True, blocked=()):
        pm = make_plugin_manager(
            autoload=False, modules=BUILTIN_MODULES if builtins else (), plugins=plugins, blocked=blocked
        )
        return Registry(pm)

    return make


@pytest.fixture
def registry(make_registry):
    """The built-in image and eval plugins, registered without entry points."""
    return make_registry()

"""The plugin author's kit: fixtures, fakes and a conformance suite for sslbench plugins.

Installed with sslbench as a pytest plugin (entry point ``pytest11``), so its fixtures
are available in every test session of an environment that has sslbench:

- ``sslbench_make_registry(*plugins, modules=(), autoload=False, blocked=())`` — a
  registry from a fresh plugin manager, for inline plugins (:func:`inline_plugin`);
- ``sslbench_fake_distributions(*dists)`` — only these (:class:`FakeDistribution`)
  are installed for the test, to test entry-point discovery;
- ``sslbench_kit(registry)`` — a :class:`Kit` that builds tiny cells (example data,
  fixed batches, the cheapest compatible partners) in a temporary folder.

The conformance suite, in a test module of the plugin's package::

    from sslbench.testing import conformance_tests

    TestConformance = conformance_tests("my_package.hooks")

Turn the pytest plugin off with ``pytest -p no:sslbench``.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConformanceError": "checks", "FakeDistribution": "fakes", "inline_plugin": "fakes",
    "install_distributions": "fakes", "make_registry": "fakes", "Kit": "kit", "KitOptions": "kit",
    "NotApplicable": "kit", "Case": "suite", "cases": "suite", "conformance_tests": "suite", "run_case": "suite",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the kit's modules on first use: the pytest plugin loads in every session (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sslbench.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sslbench.testing.{_EXPORTS[name]}"), name)

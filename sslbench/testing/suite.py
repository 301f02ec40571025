"""The conformance suite as parametrized pytest tests: one case per registered component.

A plugin author writes, in any test module of their package::

    from sslbench.testing import conformance_tests

    TestConformance = conformance_tests("my_package.hooks")

and gets one test per component their plugin registers (a task once per modality
it can run on), checked together with every other installed plugin — the partners a
task or an evaluator needs usually come from the built-ins.
"""
from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from sslbench.plugins import ENTRY_POINT_GROUP, autoload_enabled
from sslbench.registry import Registry
from sslbench.testing import check_data, check_eval, check_model, checks
from sslbench.testing.fakes import make_registry
from sslbench.testing.kit import Kit, KitOptions, NotApplicable


@dataclass(frozen=True)
class Case:
    """One conformance check: a component, and for tasks the modality to run it on."""

    kind: str
    name: str
    modality: str | None = None

    @property
    def id(self) -> str:
        """``task:simclr[image]``-style test id."""
        return f"{self.kind}:{self.name}" + (f"[{self.modality}]" if self.modality else "")


def cases(registry: Registry, plugins: Iterable[str] | None = None) -> list[Case]:
    """Every component registered by ``plugins`` (plugin names; None: all), tasks per modality.

    A task gets one case per modality where some (dataset, model) pair satisfies its
    needs, or a single case (which then skips, saying why) when there is none.
    """
    wanted = None if plugins is None else set(plugins)
    kit = Kit(registry, Path("."))  # declarations only: nothing is built here
    out = []
    for spec in registry:
        if wanted is not None and spec.plugin not in wanted:
            continue
        name = registry.name_of(spec)  # plugin:name when another plugin registers the same name
        if spec.kind != "task":
            out.append(Case(spec.kind, name))
            continue
        modalities = sorted({registry.get("dataset", d).modality for d, _ in kit.task_pairs(name)})
        out.extend([Case("task", name, m) for m in modalities] or [Case("task", name)])
    return out


def run_case(kit: Kit, case: Case) -> None:
    """Run every check of ``case``; raises ConformanceError or NotApplicable.

    The checks are independent where they can be: a ConformanceError lists every
    problem found (one per line), not only the first. NotApplicable is raised only
    when nothing failed.
    """
    problems = checks.Problems()
    checks.check_declaration(kit.registry.get(case.kind, case.name), problems)
    try:
        with problems.check():
            _run_kind(kit, case, problems)
    except NotApplicable:
        if not problems.messages:
            raise
    problems.raise_all()


def _run_kind(kit: Kit, case: Case, problems: checks.Problems) -> None:
    if case.kind == "dataset":
        check_data.check_dataset(kit, case.name, problems)
    elif case.kind == "modality":
        check_data.check_modality(kit, case.name, problems)
    elif case.kind == "model":
        check_model.check_model(kit, case.name, problems)
    elif case.kind == "task":
        check_model.check_task(kit, case.name, case.modality, problems)
    elif case.kind == "evaluator":
        check_eval.check_evaluator(kit, case.name, problems)


def resolve_plugins(targets: Sequence[str], *, autoload: bool) -> tuple[list[str], set[str]]:
    """(modules to register explicitly, plugin names to check) for entry-point names or modules.

    A target that is an installed entry point's name or module is checked under its
    entry-point name when entry points load; any other target is imported as a module.
    """
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)) if autoload else []
    modules, names = [], set()
    for target in targets:
        ep = next((e for e in eps if target in (e.name, e.value)), None)
        if ep is not None:
            names.add(ep.name)
        else:
            modules.append(target)
            names.add(target)
    return modules, names


def conformance_tests(*plugins: str, autoload: bool | None = None, blocked: Sequence[str] = (),
                      options: KitOptions = KitOptions(), threads: int | None = 1) -> type:
    """A pytest test class with one parametrized test per component of ``plugins``.

    Args:
        plugins: entry-point names (``"image"``) or importable plugin modules
            (``"my_package.hooks"``) whose components are checked; none: every loaded plugin.
        autoload: load the installed ``sslbench`` entry points as partners; default: on
            unless ``SSLBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set.
        blocked: plugin names never to load.
        options: batch size and loss-check settings (:class:`KitOptions`).
        threads: torch intra-op threads during each check (1: tiny tensors run fastest
            on a shared machine); None leaves the setting alone.

    Assign the result to a name starting with ``Test`` in a test module.
    """
    autoload = autoload_enabled() if autoload is None else autoload
    modules, names = resolve_plugins(plugins, autoload=autoload)

    def registry() -> Registry:
        return make_registry(modules=modules, autoload=autoload, blocked=blocked)

    found = cases(registry(), names if plugins else None)

    class TestSslbenchConformance:
        """Conformance of every component of the plugins under test (sslbench.testing)."""

        @pytest.fixture(scope="class")
        @classmethod
        def sslbench_conformance_kit(cls, tmp_path_factory: Any) -> Kit:
            return Kit(registry(), tmp_path_factory.mktemp("sslbench-conformance"), options)

        @pytest.mark.parametrize("case", found or [None], ids=[c.id for c in found] or ["no-components"])
        def test_component(self, case: Case | None, sslbench_conformance_kit: Kit) -> None:
            if case is None:
                names = ", ".join(plugins) or "any plugin"
                pytest.fail(f"no component registered by {names}; is the plugin installed?")
            before = torch.get_num_threads()
            if threads:
                torch.set_num_threads(threads)
            try:
                run_case(sslbench_conformance_kit, case)
            except NotApplicable as reason:
                pytest.skip(str(reason))
            finally:
                torch.set_num_threads(before)

    return TestSslbenchConformance

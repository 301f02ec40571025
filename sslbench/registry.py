"""Name → component spec, collected from every plugin's registration hooks.

Like timm's model registry, lookups are by name and unknown names fail with the
list of valid ones and the closest match; like datasette, a name registered twice
fails at start naming both plugins.
"""
from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator
from typing import Any

import pluggy

from sslbench.errors import PluginError, UnknownComponentError
from sslbench.specs import SPEC_TYPES, ComponentSpec, declaration_warnings

log = logging.getLogger(__name__)

RESERVED_TASK_NAMES = frozenset({"random-init"})
"""Task names the runner uses for its own rows; no plugin may register them."""

_HOOKS = {
    "modality": "sslbench_register_modalities",
    "dataset": "sslbench_register_datasets",
    "model": "sslbench_register_models",
    "task": "sslbench_register_tasks",
    "evaluator": "sslbench_register_evaluators",
}


class Registry:
    """Every component that the loaded plugins declare, by kind and name."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._specs: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in SPEC_TYPES}
        self.warnings: list[str] = []  # declarations that are legal but probably wrong (logged, too)
        for kind, hook_name in _HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                for spec in _call_impl(impl, kind):
                    self._add(kind, spec.with_plugin(impl.plugin_name))

    def get(self, kind: str, name: str) -> Any:
        """The spec of ``kind`` called ``name``.

        Raises:
            UnknownComponentError: naming the valid names and the closest one.
        """
        try:
            return self._specs[kind][name]
        except KeyError:
            raise UnknownComponentError(unknown_name_message(kind, name, self.names(kind))) from None

    def names(self, kind: str) -> list[str]:
        """Registered names of ``kind``, sorted."""
        return sorted(self._specs[kind])

    def specs(self, kind: str) -> list[Any]:
        """Registered specs of ``kind``, sorted by name."""
        return [self._specs[kind][n] for n in self.names(kind)]

    def __iter__(self) -> Iterator[ComponentSpec]:
        for kind in SPEC_TYPES:
            yield from self.specs(kind)

    def _add(self, kind: str, spec: ComponentSpec) -> None:
        if kind == "task" and spec.name in RESERVED_TASK_NAMES:
            raise PluginError(f"plugin {spec.plugin!r}: task name {spec.name!r} is reserved for the runner's baseline")
        existing = self._specs[kind].get(spec.name)
        if existing is not None:
            raise PluginError(
                f"duplicate {kind} {spec.name!r}: registered by plugin {existing.plugin!r} and by plugin "
                f"{spec.plugin!r}; block one with -p no:NAME or rename it"
            )
        self._specs[kind][spec.name] = spec
        for warning in declaration_warnings(spec):
            log.warning("%s", warning)
            self.warnings.append(warning)


def unknown_name_message(kind: str, name: str, valid: list[str]) -> str:
    """``unknown model 'cnn-smal'; valid: cnn-small, resnet18 (did you mean 'cnn-small'?)``."""
    hint = difflib.get_close_matches(name, valid, n=1)
    message = f"unknown {kind} {name!r}; valid: {', '.join(valid) or 'none registered'}"
    if hint:
        message += f" (did you mean {hint[0]!r}?)"
    elif not valid:
        message += "; the plugin that provides it may not be installed"
    return message


def _call_impl(impl: Any, kind: str) -> list[ComponentSpec]:
    """Call one plugin's registration hook and check what it returned."""
    try:
        specs = impl.function() or []
    except Exception as err:  # a third-party plugin's bug must name the plugin
        raise PluginError(f"plugin {impl.plugin_name!r}: {_HOOKS[kind]}() raised {type(err).__name__}: {err}") from None
    expected = SPEC_TYPES[kind]
    for spec in specs:
        if not isinstance(spec, expected):
            raise PluginError(
                f"plugin {impl.plugin_name!r}: {_HOOKS[kind]}() returned {type(spec).__name__}; "
                f"expected a list of {expected.__name__}"
            )
    return list(specs)

"""Name → component spec, collected from every plugin's registration hooks.

Like timm's model registry, lookups are by name and unknown names fail with the
list of valid ones and the closest match. Every component also has a qualified name,
``plugin:name``; a short name that two plugins register is ambiguous, an error only
where it is used (naming both qualified names), never for the whole command.
"""
from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pluggy

from sslbench.anchors import RESERVED_TASK_NAMES
from sslbench.errors import AmbiguousNameError, PluginError, UnknownComponentError
from sslbench.specs import SPEC_TYPES, ComponentSpec, declaration_warnings

log = logging.getLogger(__name__)

"""Task names the runner uses for its own rows; no plugin may register them."""

_HOOKS = {
    "modality": "sslbench_register_modalities",
    "dataset": "sslbench_register_datasets",
    "model": "sslbench_register_models",
    "task": "sslbench_register_tasks",
    "evaluator": "sslbench_register_evaluators",
}


class Registry:
    """Every component that the loaded plugins declare, by kind and name.

    Each component is addressable as ``plugin:name`` (e.g. ``image:simclr``), and by its
    short name while no other plugin registers that name for the same kind. A clash
    makes only the short name ambiguous: using it is an error that lists the qualified
    names; everything else works. ``blocked`` (``PLUGIN:NAME``; default: the
    ``-p no:PLUGIN:NAME`` values given to :func:`~sslbench.plugins.make_plugin_manager`)
    leaves single components out.
    """

    def __init__(self, pm: pluggy.PluginManager, blocked: Iterable[str] | None = None) -> None:
        self.pm = pm
        self._specs: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in SPEC_TYPES}  # by qualified name
        self._short: dict[str, dict[str, list[str]]] = {kind: {} for kind in SPEC_TYPES}  # short → qualified names
        self.warnings: list[str] = []  # declarations that are legal but probably wrong (logged, too)
        self.registered = self  # the plugins' own components (another registry for an extended copy)
        blocked = set(getattr(pm, "sslbench_blocked_components", ()) if blocked is None else blocked)
        seen: set[str] = set()
        for kind, hook_name in _HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                for spec in _call_impl(impl, kind):
                    spec = spec.with_plugin(impl.plugin_name)
                    seen.add(qualified_name(spec))
                    if qualified_name(spec) not in blocked:
                        self._add(kind, spec)
        _check_blocked_components(blocked, seen)

    def get(self, kind: str, name: str) -> Any:
        """The spec of ``kind`` called ``name`` (short, or qualified ``plugin:name``).

        Raises:
            UnknownComponentError: naming the valid names and the closest one.
            AmbiguousNameError: a short name that several plugins register, listing
                the qualified names to write instead.
        """
        if name in self._specs[kind]:
            return self._specs[kind][name]
        qualified = self._short[kind].get(name, [])
        if len(qualified) == 1:
            return self._specs[kind][qualified[0]]
        if qualified:
            plugins = " and ".join(repr(self._specs[kind][q].plugin) for q in qualified)
            raise AmbiguousNameError(
                f"{kind} {name!r} is registered by plugins {plugins}; write one of "
                f"{', '.join(repr(q) for q in qualified)} (or leave one out with -p no:{qualified[-1]})")
        raise UnknownComponentError(unknown_name_message(kind, name, self.names(kind)))

    def name_of(self, spec: ComponentSpec) -> str:
        """The name configs and rows use: the short name, or ``plugin:name`` when it is ambiguous."""
        return spec.name if len(self._short[spec.kind].get(spec.name, [])) == 1 else qualified_name(spec)

    def names(self, kind: str) -> list[str]:
        """Registered names of ``kind``, sorted: short names, and ``plugin:name`` for clashing ones."""
        return sorted(self.name_of(spec) for spec in self._specs[kind].values())

    def specs(self, kind: str) -> list[Any]:
        """Registered specs of ``kind``, sorted by name."""
        return [self.get(kind, n) for n in self.names(kind)]

    def __iter__(self) -> Iterator[ComponentSpec]:
        for kind in SPEC_TYPES:
            yield from self.specs(kind)

    def extended(self, specs: Iterable[ComponentSpec]) -> Registry:
        """A copy that also knows ``specs`` (a config's variants, :mod:`sslbench.plan.variants`);
        ``self`` is unchanged, and the copy's :attr:`registered` is the plugins' registry."""
        copy = object.__new__(Registry)
        copy.pm, copy.warnings, copy.registered = self.pm, self.warnings, self.registered
        copy._specs = {kind: dict(by_name) for kind, by_name in self._specs.items()}
        copy._short = {kind: {n: list(q) for n, q in names.items()} for kind, names in self._short.items()}
        for spec in specs:
            copy._add(spec.kind, spec, warn=False)
        return copy

    def _add(self, kind: str, spec: ComponentSpec, warn: bool = True) -> None:
        if kind == "task" and spec.name in RESERVED_TASK_NAMES:
            raise PluginError(f"plugin {spec.plugin!r}: task name {spec.name!r} is reserved for the grid's own cells ({', '.join(sorted(RESERVED_TASK_NAMES))})")
        qualified = qualified_name(spec)
        if qualified in self._specs[kind]:
            raise PluginError(f"plugin {spec.plugin!r} registers {kind} {spec.name!r} twice; rename one")
        self._specs[kind][qualified] = spec
        self._short[kind].setdefault(spec.name, []).append(qualified)
        if len(self._short[kind][spec.name]) == 2:
            log.info("%s %r is registered by several plugins; configs must write %s", kind, spec.name,
                     " or ".join(self._short[kind][spec.name]))
        for warning in declaration_warnings(spec) if warn else ():
            log.warning("%s", warning)
            self.warnings.append(warning)


def qualified_name(spec: ComponentSpec) -> str:
    """``plugin:name``, e.g. ``image:simclr``: unique among every loaded component of a kind."""
    return f"{spec.plugin}:{spec.name}"


def _check_blocked_components(blocked: set[str], seen: set[str]) -> None:
    """Every ``-p no:PLUGIN:NAME`` must name a component some plugin registers."""
    unknown = sorted(blocked - seen)
    if unknown:
        plugin = unknown[0].rsplit(":", 1)[0]
        theirs = sorted(q for q in seen if q.rsplit(":", 1)[0] == plugin)
        listing = f"its components: {', '.join(theirs)}" if theirs else "no loaded plugin has that name"
        raise PluginError(f"-p no:{unknown[0]}: plugin {plugin!r} registers no component "
                          f"{unknown[0].rsplit(':', 1)[1]!r}; {listing}")


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

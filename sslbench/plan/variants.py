"""Named variants of a component: ``[tasks."simclr-t02"] base = "simclr"`` and its options.

A config may give a dataset, task, model or evaluator a second name with other options::

    [tasks.simclr]            # optional: the registered task's options in this config
    projection_dim = 16
    [tasks."simclr-t02"]
    base = "simclr"           # a registered task, or another task variant of this config
    temperature = 0.2

The variant is a component of its own wherever a name is used — grid lists, ``sslbench list
--config`` and ``--cells``, rows, rankings, the report — built by its base's builder with its own
options: the base's options as this config sets them (the base's own table, or the options of
the base variant), changed by the keys of the variant's table, checked exactly like a component
table. So an ablation (two temperatures) is one ranking, with paired tests between its entries.

A variant's rows name it (``task = "simclr-t02"``) and identify it by its options that differ
from the *registered* component's defaults plus that component's name (``identity["bases"]``,
:func:`sslbench.results.identity.row_identity`): a variant of a variant and a variant written
directly with the same options are the same measurement.

Modalities have none: a dataset names its modality, so a modality variant could never be used.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sslbench.anchors import RESERVED_TASK_NAMES
from sslbench.errors import AmbiguousNameError, ConfigError, UnknownComponentError
from sslbench.options import (
    OptionError,
    build_options,
    non_default,
    option_fields,
    options_as_dict,
)
from sslbench.registry import Registry, unknown_name_message
from sslbench.specs import NAME_PATTERN

VARIANT_TABLES = {"datasets": "dataset", "tasks": "task", "models": "model", "evaluators": "evaluator"}
"""Config table → kind of the components that may have variants."""
BASE_KEY = "base"


@dataclass(frozen=True)
class Variant:
    """One ``[<table>.<name>]`` table with a ``base`` key."""

    kind: str  # dataset, task, model or evaluator
    name: str  # the variant's own name, as grids and rows write it
    parent: str  # its base as the config writes it: a registered component or another variant
    base: str  # the registered component it derives from, as the registry names it
    table: Mapping[str, Any]  # its own option keys (``base`` left out)

    @property
    def key(self) -> tuple[str, str]:
        """``(kind, name)``, as :attr:`sslbench.plan.config.Config.options` keys components."""
        return self.kind, self.name

    @property
    def where(self) -> str:
        """Its table as the config writes it, for messages: ``[tasks.simclr-t02]``."""
        table = next(t for t, k in VARIANT_TABLES.items() if k == self.kind)
        return f"[{table}.{self.name}]"


Variants = Mapping[tuple[str, str], Variant]


def find_variants(where: str, raw: Mapping[str, Any], registry: Registry) -> dict[tuple[str, str], Variant]:
    """Every variant table of the parsed config ``raw``, its chain of bases followed to a registered component.

    Raises:
        ConfigError: one line for a variant of a modality, a name that is no component name or that a
            plugin registers already, a ``base`` that is not a string, unknown, of another kind, or a cycle.
    """
    registry = plugins_registry(registry)
    if isinstance(raw.get("modalities"), dict):
        for name, values in raw["modalities"].items():
            if isinstance(values, dict) and BASE_KEY in values and not _takes_base(registry, "modality", name):
                raise ConfigError(where, f"[modalities.{name}] base", "modalities have no variants (a dataset names "
                                  "its modality); variants are for datasets, tasks, models and evaluators")
    declared: dict[tuple[str, str], dict[str, Any]] = {}
    for table, kind in VARIANT_TABLES.items():
        tables = raw.get(table, {})
        if not isinstance(tables, dict):
            raise ConfigError(where, table, f"must be a table ([{table}]), got {type(tables).__name__}")
        for name, values in tables.items():
            if isinstance(values, dict) and BASE_KEY in values and not _takes_base(registry, kind, name):
                _check_name(where, f"[{table}.{name}]", kind, name, registry)
                declared[(kind, name)] = values
    variants = {}
    for (kind, name), values in declared.items():
        base = _root(where, kind, name, declared, registry, ())
        own = {k: v for k, v in values.items() if k != BASE_KEY}
        variants[(kind, name)] = Variant(kind, name, values[BASE_KEY], base, own)
    return variants


def variant_options(where: str, variants: Variants, registry: Registry,
                    options: Mapping[tuple[str, str], Any]) -> dict[tuple[str, str], Any]:
    """Each variant's options instance: its base's options (``options``: the registered components'
    that the config sets; defaults otherwise), changed by its own table, checked like a component table.

    Raises:
        ConfigError: ``[tasks.NAME] KEY: problem``, as for any component table.
    """
    built: dict[tuple[str, str], Any] = {}

    def build(variant: Variant) -> Any:
        if variant.key not in built:
            spec = plugins_registry(registry).get(variant.kind, variant.base)
            parent = variants.get((variant.kind, variant.parent))
            start = build(parent) if parent else options.get((variant.kind, variant.base)) or spec.options()
            try:
                built[variant.key] = build_options(spec.options, {**options_as_dict(start), **variant.table})
            except OptionError as err:
                raise ConfigError(where, f"{variant.where} {err.key}".strip(), err.problem) from None
        return built[variant.key]

    for variant in variants.values():
        build(variant)
    return built


def with_variants(registry: Registry, variants: Variants, options: Mapping[tuple[str, str], Any] | None = None) \
        -> Registry:
    """``registry`` that also knows each variant by its name (its base's spec under that name), or
    ``registry`` itself when it knows them already. ``options`` (the config's) describe each variant."""
    if all(_knows(registry, v) for v in variants.values()):
        return registry
    plain = plugins_registry(registry)
    specs = []
    for variant in variants.values():
        spec = plain.get(variant.kind, variant.base)
        changed = changed_options((options or {}).get(variant.key))
        text = f": {changes_text(changed)}" if changed else " (every option at its default)"
        specs.append(dataclasses.replace(spec, name=variant.name, description=f"variant of {variant.base}{text}"))
    return plain.extended(specs)


def plugins_registry(registry: Registry) -> Registry:
    """The registry of the plugins' own components, without any config's variants."""
    return getattr(registry, "registered", registry)  # a stand-in registry (tests) may lack the attribute


def changed_options(options: Any) -> dict[str, Any]:
    """The options of an instance that differ from its class's defaults (``{}`` for None)."""
    if options is None:
        return {}
    return non_default(options_as_dict(options), options_as_dict(type(options)()))


def variant_label(name: str, base: str, changed: Mapping[str, Any]) -> str:
    """``simclr-t02 (simclr, temperature=0.2)``: a variant, the registered component it derives from
    and the options in which it differs from that component's defaults (keys sorted)."""
    return f"{name} ({', '.join([base, changes_text(changed)] if changed else [base])})"


def changes_text(changed: Mapping[str, Any]) -> str:
    """``temperature=0.2, width=64``: options as ``key=value``, keys sorted, values as TOML writes them."""
    return ", ".join(f"{key}={_shown(value)}" for key, value in sorted(changed.items()))


def bases_of(variants: Variants, components: Mapping[str, str]) -> dict[str, str]:
    """kind → registered base, for the ``components`` (kind → name) that are variants."""
    return {kind: variants[(kind, name)].base for kind, name in components.items() if (kind, name) in variants}


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _takes_base(registry: Registry, kind: str, name: str) -> bool:
    """A registered component whose own options have a ``base`` field: its table sets options, it is no variant."""
    try:
        return BASE_KEY in option_fields(registry.get(kind, name).options)
    except UnknownComponentError:
        return False


def _knows(registry: Registry, variant: Variant) -> bool:
    """Whether ``registry`` knows ``variant`` already: its name, as its base's spec (another config's
    variant of the same name may have another base)."""
    try:
        spec = registry.get(variant.kind, variant.name)
        base = plugins_registry(registry).get(variant.kind, variant.base)
    except UnknownComponentError:
        return False
    return dataclasses.replace(spec, description="") == dataclasses.replace(base, name=variant.name, description="")


def _check_name(where: str, key: str, kind: str, name: str, registry: Registry) -> None:
    """A variant's name is a component name no plugin registers for its kind."""
    if not NAME_PATTERN.match(name):
        raise ConfigError(where, key, "a variant's name must be lowercase letters, digits, '-', '_' or '.' "
                          "(it names rows and files)")
    if kind == "task" and name in RESERVED_TASK_NAMES:
        raise ConfigError(where, f"{key} base", f"{name!r} is the grid's own anchor; name the variant otherwise")
    try:
        spec = registry.get(kind, name)
    except AmbiguousNameError:
        spec = None
    except UnknownComponentError:
        return
    owner = f" (plugin {spec.plugin!r})" if spec is not None else ""
    raise ConfigError(where, f"{key} base", f"{name!r} is a registered {kind}{owner}; a variant needs a name of its "
                      f"own, e.g. {name + '-2'!r}")


def _root(where: str, kind: str, name: str, declared: Mapping[tuple[str, str], Mapping[str, Any]],
          registry: Registry, chain: tuple[str, ...]) -> str:
    """The registered component that ``name``'s chain of bases leads to, as the registry names it."""
    key = f"[{next(t for t, k in VARIANT_TABLES.items() if k == kind)}.{name}] base"
    parent = declared[(kind, name)][BASE_KEY]
    if not isinstance(parent, str):
        raise ConfigError(where, key, f"must name a {kind} (a string), got {type(parent).__name__} {parent!r}")
    chain = (*chain, name)
    if (kind, parent) in declared:
        if parent in chain:
            cycle = " → ".join((*chain[chain.index(parent):], parent))
            first = f"[{key.split('.', 1)[0][1:]}.{chain[0]}] base"
            raise ConfigError(where, first, f"the variants' bases form a cycle: {cycle}; a chain of bases must end "
                              f"at a registered {kind}")
        return _root(where, kind, parent, declared, registry, chain)
    try:
        return registry.name_of(registry.get(kind, parent))
    except AmbiguousNameError as err:
        raise ConfigError(where, key, str(err)) from None
    except UnknownComponentError:
        pass
    other = _other_kind(registry, declared, kind, parent)
    if other:
        raise ConfigError(where, key, f"{parent!r} is a {other}, not a {kind}; a {kind} variant's base is a {kind} "
                          f"or another {kind} variant")
    variants = [n for k, n in declared if k == kind]
    raise ConfigError(where, key, unknown_name_message(kind, parent, sorted({*registry.names(kind), *variants})))


def _other_kind(registry: Registry, declared: Mapping[tuple[str, str], Any], kind: str, name: str) -> str:
    """The kind, other than ``kind``, of a component or variant called ``name`` ("" if none)."""
    for other in ("modality", *VARIANT_TABLES.values()):
        if other == kind:
            continue
        if (other, name) in declared:
            return f"{other} variant"
        try:
            registry.get(other, name)
            return other
        except UnknownComponentError:
            continue
    return ""

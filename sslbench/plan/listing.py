"""What ``sslbench list`` shows: every component with its plugin and declarations."""
from __future__ import annotations

from typing import Any

from sslbench.anchors import AS_LOADED
from sslbench.anchors import UNTRAINED_TASKS as _UNTRAINED
from sslbench.options import describe_options, option_fields, options_as_dict, type_name
from sslbench.plan.variants import changed_options, variant_label
from sslbench.registry import Registry
from sslbench.specs import SPEC_TYPES

_DECLARATIONS = ("base", "modality", "modalities", "needs", "provides", "label_sets", "label_kinds", "license", "size",
                 "reference_name")


def describe_registry(registry: Registry, config: Any = None) -> dict[str, list[dict[str, Any]]]:
    """Kind (plural) → JSON-able descriptions of every registered component; with ``config``
    (``sslbench list --config``) its variants too, each with its ``base`` and its options' values."""
    if config is not None:
        registry = config.registry(registry)
    described = {f"{kind}s" if kind != "modality" else "modalities":
                 [describe(s, registry.name_of(s)) for s in registry.specs(kind)] for kind in SPEC_TYPES}
    for (kind, name), variant in (config.variants if config is not None else {}).items():
        item = next(i for i in described[f"{kind}s"] if i["name"] == name)
        options = config.options_for(kind, name)
        types = option_fields(type(options))
        item["base"] = variant.base
        item["options"] = {key: f"{type_name(types[key].type)} = {value!r}"
                           for key, value in options_as_dict(options).items()}
    return described


def describe_variants(config: Any) -> list[dict[str, Any]]:
    """A config's variants: kind, name, registered base, the options that differ from its defaults, label."""
    out = []
    for (kind, name), variant in config.variants.items():
        changed = changed_options(config.options_for(kind, name))
        out.append({"kind": kind, "name": name, "base": variant.base, "changed": changed,
                    "label": variant_label(name, variant.base, changed)})
    return out


def describe(spec: Any, name: str | None = None) -> dict[str, Any]:
    """One component: name (``name``: as configs write it, e.g. ``tp:simclr`` when another
    plugin registers ``simclr`` too), plugin, description, reference, declarations and options."""
    out: dict[str, Any] = {"name": name or spec.name, "plugin": spec.plugin, "description": spec.description}
    if spec.reference:
        out["reference"] = spec.reference
    for attr in _DECLARATIONS:
        value = getattr(spec, attr, None)
        if value:
            out[attr] = sorted(value) if isinstance(value, frozenset) else value
    out["options"] = describe_options(spec.options)
    return out


def render_listing(described: dict[str, list[dict[str, Any]]]) -> str:
    """Human-readable listing, one block per kind."""
    lines = []
    for kind, items in described.items():
        lines.append(f"{kind}:")
        if not items:
            lines.append("  (none)")
        for item in items:
            lines.append(f"  {item['name']}  [{item['plugin']}]  {item['description']}")
            for attr in _DECLARATIONS:
                if attr in item:
                    value = item[attr]
                    shown = ", ".join(value) if isinstance(value, list) else (
                        ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else value)
                    lines.append(f"      {attr}: {shown}")
            for name, desc in item["options"].items():
                lines.append(f"      option {name}: {desc}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def describe_plan(plan: Any, config: Any = None) -> dict[str, list[dict[str, Any]]]:
    """A planned grid as JSON-able data: cells with their evaluations and budget, and skips; with
    ``config``, its variants first (:func:`describe_variants`)."""
    cells = [{"dataset": c.dataset, "task": c.task, "model": c.model,
              "evaluators": [{"name": e.evaluator, "label_sets": [ls for ls in e.label_sets if ls]}
                             for e in c.evaluations],
              "references": [e.evaluator for e in c.references],
              "budget": {"unit": c.run.budget_unit, "batch_size": c.run.batch_size,
                         "amount": c.run.budget_amount}}
             for c in plan.cells]
    skipped = [{"dataset": s.dataset, "task": s.task, "model": s.model, "evaluator": s.evaluator, "reason": s.reason}
               for s in plan.skipped]
    variants = describe_variants(config) if config is not None else []
    return {**({"variants": variants} if variants else {}), "cells": cells, "skipped": skipped}


def render_plan(plan: dict[str, list[dict[str, Any]]]) -> str:
    """``sslbench list --cells``: one line per cell that runs, then every skip with its reason."""
    pretrained = sum(1 for c in plan["cells"] if c["task"] not in _UNTRAINED)
    loaded = sum(1 for c in plan["cells"] if c["task"] == AS_LOADED)
    also = f" + {loaded} as loaded from outside weights" if loaded else ""
    variants = plan.get("variants") or []
    lines = [f"variants ({len(variants)}):", *(f"  {v['kind']} {v['label']}" for v in variants)] if variants else []
    lines.append(f"runs {len(plan['cells'])} cells ({pretrained} pretrained{also} + their random-init baselines "
                 "and no-encoder references):")
    for c in plan["cells"]:
        evals = ", ".join(e["name"] + (f" [{', '.join(e['label_sets'])}]" if e["label_sets"] else "")
                          for e in c["evaluators"]) or "no evaluator"
        b = c["budget"]
        budget = "" if c["task"] in _UNTRAINED else f"  ({b['amount']:g} {b['unit']}, batch {b['batch_size']})"
        lines.append(f"  {c['dataset']} / {c['task']} / {c['model']}: {evals}{budget}")
    lines.append(f"skipped ({len(plan['skipped'])}):")
    for s in plan["skipped"]:
        what = f"({s['dataset']}, {s['task']}, {s['model']})" + (f" {s['evaluator']}" if s["evaluator"] else "")
        lines.append(f"  {what}: {s['reason']}")
    return "\n".join(lines) + "\n"

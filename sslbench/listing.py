"""What ``sslbench list`` shows: every component with its plugin and declarations."""
from __future__ import annotations

from typing import Any

from sslbench.options import describe_options
from sslbench.registry import Registry
from sslbench.specs import SPEC_TYPES

_DECLARATIONS = ("modality", "modalities", "needs", "provides", "label_sets", "label_kinds", "license", "size")


def describe_registry(registry: Registry) -> dict[str, list[dict[str, Any]]]:
    """Kind (plural) → JSON-able descriptions of every registered component."""
    return {f"{kind}s" if kind != "modality" else "modalities": [describe(s) for s in registry.specs(kind)]
            for kind in SPEC_TYPES}


def describe(spec: Any) -> dict[str, Any]:
    """One component: name, plugin, description, reference, declarations and options."""
    out: dict[str, Any] = {"name": spec.name, "plugin": spec.plugin, "description": spec.description}
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

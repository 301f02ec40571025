"""Which of a row's recorded options identify what it measured, so that an upgrade keeps results comparable.

A row records every resolved option (``protocol``: the evaluator's; ``settings``: the
dataset's, modality's, model's and task's) for provenance. Its *identity* — what resume,
``compare`` and ``merge`` match on — keeps only the options that differ from their
defaults, plus each component's declared :attr:`~sslbench.specs.ComponentSpec.version`
where it is above 1. So adding an option with a default to a component leaves every
existing row's identity as it was; changing a default's meaning is announced by bumping
the component's version, which separates the rows.

Rows of format 2 (``"format": 2``, written since this rule) carry their identity in
``row["identity"]``, computed when they were written. Older rows (no ``format``) carry
only the full options: their identity is recovered by leaving out the values equal to
the defaults of the components installed now (:func:`with_identity`), which is exact as
long as no default changed its value since — and a changed default value shows up as an
option that differs, so such rows are kept apart, never silently matched.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sslbench.options import non_default
from sslbench.plan.variants import variant_label

ROWS_FORMAT = 2
"""The format of rows written now: 2 adds ``format`` and ``identity``; rows without ``format`` are format 1."""

BASE_MARK = "(base)"
"""The key under which :func:`identity_of_row` puts a variant's base among its options."""

SETTINGS_KINDS = ("dataset", "modality", "model", "task")
"""The components whose options make up a row's ``settings``."""

Defaults = Callable[[str, str], "Mapping[str, Any] | None"]
"""(kind, name) → that component's default options as a dict, or None when it is not installed."""


def row_identity(protocol: Mapping[str, Any], protocol_defaults: Mapping[str, Any],
                 settings: Mapping[str, Mapping[str, Any]], settings_defaults: Mapping[str, Mapping[str, Any]],
                 versions: Mapping[str, int], bases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``identity`` of a format-2 row: non-default options, versions above 1, and the bases of variants.

    ``settings`` and ``settings_defaults`` map a kind (``dataset``, ``model``, …) to options;
    ``versions`` maps a kind (``evaluator`` among them) to its component's version; ``bases`` maps
    the kind of each component that is a config's variant (:mod:`sslbench.plan.variants`) to the
    registered component it derives from (its options' defaults are that component's).
    """
    identity: dict[str, Any] = {
        "protocol": non_default(protocol, protocol_defaults),
        "settings": {kind: non_default(opts, settings_defaults.get(kind, {})) for kind, opts in settings.items()},
    }
    raised = {kind: v for kind, v in sorted(versions.items()) if v != 1}
    if raised:
        identity["versions"] = raised
    if bases:
        identity["bases"] = dict(sorted(bases.items()))
    return identity


def identity_of_row(row: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(protocol, settings) that identify ``row``: its stored identity, or its full options (legacy).

    The versions above 1 join both sides: the evaluator's the protocol, the others the settings;
    so do the bases of variants, as ``"(base)"`` (:data:`BASE_MARK`).
    """
    identity = row.get("identity")
    if not isinstance(identity, Mapping):
        return dict(row.get("protocol") or {}), dict(row.get("settings") or {})
    versions = identity.get("versions") or {}
    protocol = dict(identity.get("protocol") or {})
    settings = {kind: dict(opts) for kind, opts in (identity.get("settings") or {}).items()}
    if "evaluator" in versions:
        protocol["(version)"] = versions["evaluator"]
    for kind, version in versions.items():
        if kind != "evaluator":
            settings.setdefault(kind, {})["(version)"] = version
    for kind, base in (identity.get("bases") or {}).items():
        (protocol if kind == "evaluator" else settings.setdefault(kind, {}))[BASE_MARK] = base
    return protocol, settings


def component_label(name: str, options: Mapping[str, Any]) -> str:
    """``name``; for a config's variant (its identity's options hold :data:`BASE_MARK`) the name, its
    registered base and the options that differ from that base's defaults, e.g.
    ``simclr-t02 (simclr, temperature=0.2)`` (:func:`sslbench.plan.variants.variant_label`)."""
    if BASE_MARK not in options:
        return name
    changed = {k: v for k, v in options.items() if not k.startswith("(")}  # "(version)" is no option
    return variant_label(name, str(options[BASE_MARK]), changed)


def legacy_identity(row: Mapping[str, Any], defaults: Defaults, modality_of: Callable[[str], str | None]) \
        -> dict[str, Any] | None:
    """The identity of a format-1 row under the defaults installed now; None when a component is unknown."""
    names = {"dataset": row.get("dataset"), "model": row.get("model"), "task": row.get("task"),
             "modality": row.get("modality") or modality_of(str(row.get("dataset")))}
    protocol_defaults = defaults("evaluator", str(row.get("evaluator")))
    if protocol_defaults is None:
        return None
    settings, settings_defaults = {}, {}
    for kind, opts in (row.get("settings") or {}).items():
        found = defaults(kind, str(names.get(kind))) if kind in names else None
        if found is None:
            return None
        settings[kind], settings_defaults[kind] = opts, found
    return row_identity(row.get("protocol") or {}, protocol_defaults, settings, settings_defaults, {})


def with_identity(rows: Iterable[dict[str, Any]], defaults: Defaults,
                  modality_of: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """``rows`` with an ``identity`` recovered for every legacy row whose components are installed.

    Rows are read as they are on disk; this changes the in-memory dicts only (a migration
    when read, never a rewrite of a committed folder). Rows already of format 2 are untouched.
    """
    out = []
    for row in rows:
        if "identity" not in row:
            identity = legacy_identity(row, defaults, modality_of)
            if identity is not None:
                row = {**row, "identity": identity}
        out.append(row)
    return out


def defaults_from_registry(registry: Any) -> tuple[Defaults, Callable[[str], str | None]]:
    """What :func:`with_identity` needs, from the loaded plugins: options' defaults, a dataset's modality."""
    from sslbench.options import options_as_dict

    @functools.cache  # once per component, not once per legacy row
    def defaults(kind: str, name: str) -> Mapping[str, Any] | None:
        try:
            return options_as_dict(registry.get(kind, name).options())
        except Exception:  # not installed now (or its options cannot be built): keep the full options
            return None

    def modality_of(dataset: str) -> str | None:
        try:
            return registry.get("dataset", dataset).modality
        except Exception:
            return None

    return defaults, modality_of

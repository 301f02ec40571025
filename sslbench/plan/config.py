"""TOML config → validated, frozen config objects.

A config file looks like::

    [run]
    seeds = [0, 1]
    device = "auto"        # auto | cpu | cuda
    steps = 200            # pretraining budget per cell, in optimizer steps
    batch_size = 128
    [grid]
    datasets = ["digits"]
    tasks = ["simclr"]
    models = ["cnn-small"]
    evaluators = ["knn", "linear-probe"]
    [tasks.simclr]          # options for one component, passed to its factory
    temperature = 0.5

A config may hold several grids, each with its own budget, as an array of tables::

    [[grid]]
    name = "image"
    datasets = ["fashion-mnist"]
    ...
    [grid.run]             # overrides of [run] budget keys for this grid only
    steps = 500
    batch_size = 256

Every problem raises :class:`~sslbench.errors.ConfigError` naming the file, the key
and what is allowed.
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sslbench.anchors import AS_LOADED
from sslbench.errors import ConfigError, UnknownComponentError
from sslbench.options import OptionError, build_options, did_you_mean, options_as_dict
from sslbench.plan.identity import identity_from_full, identity_hash
from sslbench.plan.overrides import apply_overrides
from sslbench.plan.variants import (
    BASE_KEY,
    Variant,
    find_variants,
    variant_options,
    with_variants,
)
from sslbench.registry import Registry

COMPONENT_TABLES = {"modalities": "modality", "datasets": "dataset", "tasks": "task", "models": "model", "evaluators": "evaluator"}
"""Top-level table → component kind whose options it holds."""

TOP_LEVEL_KEYS = ("run", "grid", *COMPONENT_TABLES)


@dataclass(frozen=True)
class RunConfig:
    """The ``[run]`` table: budget and execution settings shared by every cell."""

    suite: str = ""  # name of the suite in result rows; default: the config file's stem
    seeds: tuple[int, ...] = (0,)  # one training run per seed for every cell
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto takes CUDA when present
    steps: int = 200  # pretraining budget per cell, in optimizer steps
    seconds: float = 0.0  # budget in seconds of training instead of steps (0: off); not reproducible
    flops: float = 0.0  # budget in training FLOPs instead of steps (0: off); steps = flops ÷ FLOPs of one step
    batch_size: int = 128  # samples per optimizer step
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 1e-4
    schedule: Literal["cosine", "constant"] = "cosine"  # after linear warmup
    warmup_fraction: float = 0.1  # fraction of steps spent warming up linearly
    grad_clip: float = 0.0  # max gradient norm; 0 turns clipping off
    embed_batch_size: int = 512  # batch size when embedding splits for evaluators
    threads: int = 0  # torch CPU threads per process (0: torch's default; 1 helps on busy shared machines)
    compile: bool = False  # torch.compile the task for training (pays a compile per cell; see benchmarks/)
    fused_optimizer: bool = False  # the fused AdamW/SGD implementation
    pin_memory: bool = True  # on CUDA, gather batches into pinned memory so copies to the GPU overlap compute
    checkpoint_every: int = 0  # also checkpoint every N steps (0: only at the end of each cell)
    keep_checkpoints: bool = True  # keep each cell's final checkpoint in OUT/checkpoints/
    score_split: Literal["test", "valid"] = "test"  # "valid": evaluators score each dataset's validation split
    # instead of test (to choose a config's settings; the test split is then never read)
    loggers: tuple[Literal["tensorboard"], ...] = ()  # trackers that follow training live (docs/running.md)

    def __post_init__(self) -> None:
        if self.suite:
            check_suite_name(self.suite)
        if not self.seeds:
            raise ValueError("seeds: must list at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: must not repeat a seed, got {list(self.seeds)}")
        if any(not 0 <= s < 2**32 for s in self.seeds):
            raise ValueError(f"seeds: must be integers in [0, 2**32), got {list(self.seeds)}")
        for name in ("steps", "batch_size", "embed_batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be a positive integer, got {getattr(self, name)}")
        for name, limit in RUN_LIMITS.items():
            if getattr(self, name) > limit:
                raise ValueError(f"{name}: must be at most {limit:_}, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("weight_decay: must be >= 0" if self.weight_decay < 0 else "grad_clip: must be >= 0")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction: must be in [0, 1), got {self.warmup_fraction}")
        if self.seconds < 0 or self.flops < 0:
            raise ValueError("seconds: must be >= 0" if self.seconds < 0 else "flops: must be >= 0")
        if self.seconds > 0 and self.flops > 0:
            raise ValueError("seconds: give one budget — steps, seconds or flops — not several")
        if self.threads < 0:
            raise ValueError(f"threads: must be >= 0, got {self.threads}")
        if len(set(self.loggers)) != len(self.loggers):
            raise ValueError(f"loggers: must not repeat a logger, got {list(self.loggers)}")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every: must be >= 0, got {self.checkpoint_every}")

    @property
    def budget_unit(self) -> str:
        """``steps``, ``seconds`` or ``flops``: what the pretraining budget counts."""
        return "seconds" if self.seconds > 0 else "flops" if self.flops > 0 else "steps"

    @property
    def budget_amount(self) -> float:
        """How many of ``budget_unit`` the budget allows."""
        return {"steps": self.steps, "seconds": self.seconds, "flops": self.flops}[self.budget_unit]


RUN_LIMITS = {"steps": 10**9, "seconds": 10**7, "flops": 1e24, "batch_size": 2**20, "embed_batch_size": 2**20,
              "checkpoint_every": 10**9, "threads": 4096}
"""Upper bounds of ``[run]`` values: a budget beyond them never ends (``seconds``: about 116 days)."""

SUITE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=-]*$")


def check_suite_name(name: str) -> str:
    """``name`` if it can name a folder under ``runs/``: letters, digits, ``_ . + = -``, no path."""
    if not SUITE_NAME.match(name) or ".." in name or len(name) > 100:
        raise ValueError(f"suite: must be a plain name of up to 100 letters, digits and _ . + = - (no path, "
                         f"no '..'), got {name!r}")
    return name


PER_GRID_RUN_KEYS = ("steps", "seconds", "flops", "batch_size", "optimizer", "lr", "weight_decay", "schedule", "warmup_fraction",
                     "grad_clip", "embed_batch_size")
"""``[run]`` keys a grid may override in its ``[grid.run]`` table (seeds, suite and device stay global)."""


@dataclass(frozen=True)
class GridConfig:
    """One ``[grid]`` table: component names whose compatible combinations run."""

    name: str = ""  # shown in errors and the manifest; default: the grid's position
    datasets: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    evaluators: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for kind in ("datasets", "tasks", "models", "evaluators"):
            names = getattr(self, kind)
            if not names:
                raise ValueError(f"{kind}: must list at least one name")
            if len(set(names)) != len(names):
                raise ValueError(f"{kind}: lists a name twice: {list(names)}")


@dataclass(frozen=True)
class GridPart:
    """One grid with the run settings (budget) its cells train under."""

    grid: GridConfig
    run: RunConfig
    label: str  # "[grid]" or "[grid #2]", for messages


@dataclass(frozen=True)
class Config:
    """A validated config: run settings, grids, and every component's options."""

    path: str
    run: RunConfig
    grids: tuple[GridPart, ...]
    options: Mapping[tuple[str, str], Any] = field(default_factory=dict)
    versions: Mapping[str, int] = field(default_factory=dict)  # "kind.name" → the component's declared version
    hash: str = ""
    overrides: tuple[str, ...] = ()  # the command line's key=value overrides, as given (already applied)
    variants: Mapping[tuple[str, str], Variant] = field(default_factory=dict)  # (kind, name) → its variant table

    def registry(self, registry: Registry) -> Registry:
        """``registry`` that also knows this config's variants by name (:mod:`sslbench.plan.variants`)."""
        return with_variants(registry, self.variants, self.options)

    @property
    def grid(self) -> GridConfig:
        """The only grid (configs with one ``[grid]`` table)."""
        if len(self.grids) != 1:
            raise ValueError("this config has several grids; use .grids")
        return self.grids[0].grid

    def options_for(self, kind: str, name: str) -> Any:
        """Options of component ``name`` of ``kind`` (the file's values over the defaults)."""
        return self.options[(kind, name)]

    def as_dict(self) -> dict[str, Any]:
        """The config as run, defaults filled in (for the manifest and the hash)."""
        tables: dict[str, dict[str, Any]] = {}
        for (kind, name), opts in sorted(self.options.items()):
            table = next(t for t, k in COMPONENT_TABLES.items() if k == kind)
            variant = self.variants.get((kind, name))
            base = {BASE_KEY: variant.base} if variant else {}  # the registered base: a chain of variants resolved
            tables.setdefault(table, {})[name] = {**base, **options_as_dict(opts)}
        grids = [{**options_as_dict(p.grid), "run": {k: v for k, v in options_as_dict(p.run).items() if k in PER_GRID_RUN_KEYS}}
                 for p in self.grids]
        return {"run": options_as_dict(self.run), "grid": grids, **tables}

    def identity(self) -> dict[str, Any]:
        """What in this config changes results (:mod:`sslbench.plan.identity`); its hash is :attr:`hash`."""
        return identity_from_full(self.as_dict(), options_as_dict(RunConfig()), self.defaults_of, self.versions)

    def defaults_of(self, table: str, name: str) -> dict[str, Any] | None:
        """The default options of component ``name`` of config table ``table`` (``tasks``, …), if it is in use."""
        options = self.options.get((COMPONENT_TABLES.get(table, ""), name))
        return None if options is None else options_as_dict(type(options)())


def load_config(path: str | Path, registry: Registry, overrides: Mapping[str, Any] | None = None,
                settings: Sequence[str] = ()) -> Config:
    """Read, validate and resolve the config at ``path``.

    Args:
        path: a TOML file.
        registry: the loaded components; names and options are checked against it.
        overrides: ``[run]`` keys from the command line's flags (e.g. ``seeds``, ``device``),
            applied before validation, after ``settings``.
        settings: ``key=value`` overrides (``run.steps=50``, :mod:`sslbench.plan.overrides`),
            set in the TOML before validation.

    Raises:
        ConfigError: malformed TOML, unknown key or name, wrong type, impossible value.
    """
    where = str(path)
    raw = apply_overrides(where, read_toml(path), settings)
    _check_keys(where, "", raw, TOP_LEVEL_KEYS)
    run_table = {**_table(where, raw, "run"), **(overrides or {})}
    _check_one_budget(where, "[run]", run_table)
    run = _build(where, "[run]", RunConfig, run_table)
    if not run.suite:
        try:
            run = dataclasses.replace(run, suite=check_suite_name(Path(path).stem))
        except ValueError as err:
            raise ConfigError(where, "[run] suite", f"the default, the file name's stem, is no suite name: {err}; "
                              "set [run] suite") from None
    variants = find_variants(where, raw, registry)
    registry = with_variants(registry, variants)
    grids = _grid_parts(where, raw, run, registry)
    options = _component_options(where, raw, registry, variants)
    options.update(variant_options(where, variants, registry, options))
    for part in grids:
        _fill_defaults(options, part.grid, registry)
    versions = {f"{kind}.{name}": registry.get(kind, name).version for kind, name in sorted(options)}
    config = Config(path=where, run=run, grids=grids, options=options, versions=versions, overrides=tuple(settings),
                    variants=variants)
    return dataclasses.replace(config, hash=config_hash(config))


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is a ConfigError."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(str(path), "", "no such config file") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "", "is a directory, expected a TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), "", f"malformed TOML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "is not UTF-8 text, expected a TOML file") from None
    except RecursionError:
        raise ConfigError(str(path), "", "malformed TOML: arrays or tables nested too deeply") from None
    except PermissionError:
        raise ConfigError(str(path), "", "cannot be read (permission denied)") from None


def config_hash(config: Config) -> str:
    """The hash of the config's identity: what changes results, defaults and execution keys left out
    (:mod:`sslbench.plan.identity`), so that an option added with a default, or a run resumed on
    another device, keeps the hash."""
    return identity_hash(config.identity())



def _table(where: str, raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(where, key, f"must be a table ([{key}]), got {type(value).__name__}")
    return value


def _check_keys(where: str, table: str, values: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in values:
        if key not in allowed:
            location = f"[{table}] {key}" if table else key
            raise ConfigError(where, location, f"unknown key; allowed: {', '.join(allowed)}{did_you_mean(key, allowed)}")


def _build(where: str, table: str, options_type: type, values: Mapping[str, Any]) -> Any:
    try:
        return build_options(options_type, values)
    except OptionError as err:
        raise ConfigError(where, f"{table} {err.key}".strip(), err.problem) from None


def _grid_parts(where: str, raw: Mapping[str, Any], run: RunConfig, registry: Registry) -> tuple[GridPart, ...]:
    """``[grid]`` or ``[[grid]]`` → validated grids with their run settings."""
    tables = raw.get("grid", {})
    if isinstance(tables, dict):
        tables = [tables]
    if not isinstance(tables, list) or not tables:
        raise ConfigError(where, "grid", "must be a [grid] table or an array of [[grid]] tables")
    parts = []
    for i, table in enumerate(tables):
        label = "[grid]" if len(tables) == 1 else f"[grid #{i + 1}]"
        if not isinstance(table, dict):
            raise ConfigError(where, label, f"must be a table, got {type(table).__name__}")
        table = dict(table)
        overrides = table.pop("run", {})
        grid = _check_grid_names(where, label, _build(where, label, GridConfig, table), registry)
        parts.append(GridPart(grid=grid, run=_grid_run(where, label, run, overrides), label=label))
    _check_no_shared_cells(where, parts)
    return tuple(parts)


def _check_one_budget(where: str, table: str, values: Mapping[str, Any]) -> None:
    given = [k for k in ("steps", "seconds", "flops") if k in values]
    if len(given) > 1:
        raise ConfigError(where, f"{table} {given[1]}", f"give one budget — steps, seconds or flops — not {' and '.join(given)}")


def _grid_run(where: str, label: str, run: RunConfig, overrides: Any) -> RunConfig:
    if not isinstance(overrides, dict):
        raise ConfigError(where, f"{label} run", "must be a table of [run] overrides")
    _check_one_budget(where, f"{label} run", overrides)
    if any(k in overrides for k in ("steps", "seconds", "flops")):  # a grid's budget replaces the global one
        run = dataclasses.replace(run, steps=RunConfig.steps, seconds=0.0, flops=0.0)
    for key in overrides:
        if key not in PER_GRID_RUN_KEYS:
            raise ConfigError(where, f"{label} run {key}", f"cannot be set per grid; allowed: {', '.join(PER_GRID_RUN_KEYS)}")
    return _build(where, f"{label} run", RunConfig, {**options_as_dict(run), "seeds": run.seeds, **overrides})


def _check_no_shared_cells(where: str, parts: list[GridPart]) -> None:
    """Two grids must not both name a (dataset, task, model): its rows would collide."""
    seen: dict[tuple[str, str, str], str] = {}
    for part in parts:
        g = part.grid
        for cell in ((d, t, m) for d in g.datasets for t in g.tasks for m in g.models):
            if cell in seen:
                raise ConfigError(where, part.label, f"repeats (dataset, task, model) {cell} of {seen[cell]}; "
                                  "each combination may appear in one grid only")
            seen[cell] = part.label


def _check_grid_names(where: str, label: str, grid: GridConfig, registry: Registry) -> GridConfig:
    """The grid with every name checked and written the registry's way: ``image:simclr``
    becomes ``simclr`` while that is unambiguous, so rows and option tables agree."""
    canonical = {}
    for table, kind in COMPONENT_TABLES.items():
        if table == "modalities":
            continue
        names = []
        for name in getattr(grid, table):
            if kind == "task" and name == AS_LOADED:  # the grid's own as-loaded cell, no plugin's task
                names.append(name)
                continue
            try:
                names.append(registry.name_of(registry.get(kind, name)))
            except UnknownComponentError as err:
                raise ConfigError(where, f"{label} {table}", str(err)) from None
        if len(set(names)) != len(names):
            raise ConfigError(where, f"{label} {table}", f"names one component twice: {list(getattr(grid, table))}")
        canonical[table] = tuple(names)
    return dataclasses.replace(grid, **canonical)


def _component_options(where: str, raw: Mapping[str, Any], registry: Registry,
                       variants: Mapping[tuple[str, str], Variant]) -> dict[tuple[str, str], Any]:
    """The options of the registered components the config's tables set (variants: see :mod:`sslbench.plan.variants`)."""
    options = {}
    for table, kind in COMPONENT_TABLES.items():
        for name, values in _table(where, raw, table).items():
            if (kind, name) in variants:
                continue
            key = f"[{table}.{name}]"
            try:
                spec = registry.get(kind, name)
            except UnknownComponentError as err:
                raise ConfigError(where, key, str(err)) from None
            if not isinstance(values, dict):
                raise ConfigError(where, key, f"must be a table of options, got {type(values).__name__}")
            if (kind, registry.name_of(spec)) in options:
                raise ConfigError(where, key, f"repeats the options of {kind} {registry.name_of(spec)!r}")
            options[(kind, registry.name_of(spec))] = _build(where, key, spec.options, values)
    return options


def _fill_defaults(options: dict[tuple[str, str], Any], grid: GridConfig, registry: Registry) -> None:
    """Give every component the grid uses (and its datasets' modalities) its options."""
    for table, kind in COMPONENT_TABLES.items():
        names = getattr(grid, table) if table != "modalities" else [registry.get("dataset", d).modality for d in grid.datasets]
        for name in names:
            if (kind, name) not in options and not (kind == "task" and name == AS_LOADED):
                try:
                    options[(kind, name)] = registry.get(kind, name).options()
                except UnknownComponentError:
                    continue  # a dataset whose modality no plugin provides; the grid reports it

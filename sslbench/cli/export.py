"""``sslbench export RUN_DIR [--cell DATASET/TASK/MODEL] [--seed S] -o DIR``: a trained encoder out of
sslbench, as a folder that its library loads and that ``weights = DIR`` loads back.

The encoder is rebuilt from the run's manifest (its config as run), its task restored from the
cell's final checkpoint in ``RUN_DIR/checkpoints/``, and written by the model's plugin
(``ModelSpec.export``: timm and transformers layouts, tokenizer files) or, for a model without
one, as its ``state_dict`` in ``model.safetensors``. Beside it: ``sslbench.json`` (the model, its
options, the dataset's and modality's options and facts — what feeds the encoder) and a model
card ``README.md`` (:mod:`sslbench.cli.card`). The folder appears whole or not at all: it is
written under a temporary name and renamed into place.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sslbench.anchors import UNTRAINED_TASKS, WEIGHTS_OPTION
from sslbench.cli.common import EXIT_OK, registry_from_args
from sslbench.errors import UsageError
from sslbench.weights import WEIGHTS_FILE

META_FILE = "sslbench.json"


def add_export_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``export`` to the subparsers ``sub``."""
    p = sub.add_parser("export", parents=[common],
                       help="write a run's trained encoder as safetensors with its config, its input facts and a model card")
    p.add_argument("dir", type=Path, help="a result folder whose checkpoints/ holds the cell's final checkpoint")
    p.add_argument("--cell", default="", metavar="DATASET/TASK/MODEL", help="the cell (needed when several were trained)")
    p.add_argument("--seed", type=int, default=None, help="the seed (default: the smallest with a checkpoint)")
    p.add_argument("-o", "--output", type=Path, required=True, help="a new (or empty) folder for the encoder")
    p.set_defaults(command=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Export one (cell, seed); see the module docstring."""
    from sslbench.cli.card import model_card

    manifest = _manifest(args.dir)
    dataset, task, model = _cell(args.dir, manifest, args.cell)
    seed, checkpoint = _checkpoint(args.dir, (dataset, task, model), args.seed)
    _check_output(args.output)
    registry = registry_from_args(args)
    rebuilt = rebuild(registry, manifest["config"], (dataset, task, model), checkpoint)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=args.output.parent))
    try:
        spec = registry.get("model", model)
        writer = spec.export if spec.export is not None else write_state_dict
        facts = dict(writer(rebuilt["encoder"], rebuilt["options"], rebuilt["dataset"], staging))
        meta = _meta(rebuilt, manifest, (dataset, task, model), seed, facts)
        (staging / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")
        card = model_card(args.dir, registry, meta, facts, args.output)
        (staging / "README.md").write_text(card, encoding="utf-8")
        if args.output.exists():
            args.output.rmdir()  # checked empty above
        os.replace(staging, args.output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"exported {dataset}/{task}/{model} seed {seed} to {args.output}")
    return EXIT_OK


def _manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"export: {run_dir} is no result folder with a readable manifest.json ({type(err).__name__})") from None
    if not isinstance(manifest.get("config"), dict):
        raise UsageError(f"export: {path} holds no config (a merged folder?); export from the run's own folder")
    return manifest


def _trained_cells(manifest: Mapping[str, Any]) -> list[str]:
    return [key for key in manifest.get("cells", []) if key.split("/")[1] not in UNTRAINED_TASKS]


def _cell(run_dir: Path, manifest: Mapping[str, Any], wanted: str) -> tuple[str, str, str]:
    trained = _trained_cells(manifest)
    if not wanted:
        if len(trained) != 1:
            raise UsageError(f"export: {run_dir} trained {len(trained)} cells; choose one with --cell "
                             f"({', '.join(trained) or 'none'})")
        wanted = trained[0]
    if wanted not in trained:
        untrained = wanted in manifest.get("cells", [])
        raise UsageError(f"export: --cell {wanted}: {'no trained cell (nothing pretrained here to export)' if untrained else 'not a cell of this run'}; "
                         f"trained cells: {', '.join(trained) or 'none'}")
    dataset, task, model = wanted.split("/")
    return dataset, task, model


def _checkpoint(run_dir: Path, key: tuple[str, str, str], seed: int | None) -> tuple[int, dict[str, Any]]:
    from sslbench.run.checkpoint import CellCheckpoint

    folder = run_dir / "checkpoints"
    prefix = "--".join(key) + "--seed"
    seeds = sorted(int(p.stem[len(prefix):]) for p in folder.glob(f"{prefix}*.pt") if p.stem[len(prefix):].isdigit())
    if not seeds:
        raise UsageError(f"export: {folder} holds no checkpoint of {'/'.join(key)}; run with [run] keep_checkpoints "
                         "= true (the default) to keep the final ones")
    if seed is None:
        seed = seeds[0]
    elif seed not in seeds:
        raise UsageError(f"export: --seed {seed}: no checkpoint of {'/'.join(key)}; seeds with one: {seeds}")
    payload = CellCheckpoint(folder / f"{prefix}{seed}.pt", every=0).load()
    if payload is None or "task" not in payload:
        raise UsageError(f"export: the checkpoint of {'/'.join(key)} seed {seed} does not load (damaged?)")
    return seed, payload


def _check_output(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"export: -o {out} exists and is not an empty folder; give a new folder")


def rebuild(registry: Any, config: Mapping[str, Any], key: tuple[str, str, str], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The cell's dataset, modality and trained encoder: built as the run built them, the task's
    state (encoder included) restored from the checkpoint ``payload``."""
    import torch

    from sslbench.contexts import DatasetContext, ModelContext, TaskContext
    from sslbench.data import cache_root
    from sslbench.options import OptionError, build_options

    dataset_name, task, model = key

    def options(kind: str, table: str, name: str) -> Any:
        try:
            values = (config.get(table) or {}).get(name) or {}  # as run, defaults filled in; None: TOML has no null
            return build_options(registry.get(kind, name).options, {k: v for k, v in values.items() if v is not None})
        except OptionError as err:
            raise UsageError(f"export: [{table}.{name}] of the run's config no longer fits the installed plugin: {err}") from None

    data_spec = registry.get("dataset", dataset_name)
    dataset = data_spec.build(DatasetContext(data_root=cache_root(), progress=False, device=torch.device("cpu")),
                              options("dataset", "datasets", dataset_name))
    modality = registry.get("modality", data_spec.modality).build(
        dataset.info, options("modality", "modalities", data_spec.modality))
    model_options = options("model", "models", model)
    encoder = registry.get("model", model).build(
        ModelContext(dataset=dataset_name, modality=data_spec.modality, info=dataset.info), model_options)
    task_module = registry.get("task", task).build(
        TaskContext(encoder=encoder, modality=modality, dataset=dataset, cache_dir=cache_root() / "artifacts"),
        options("task", "tasks", task))
    task_module.load_state_dict(payload["task"])
    encoder.requires_grad_(False).eval()
    return {"dataset": dataset, "modality": data_spec.modality, "encoder": encoder, "options": model_options,
            "data_license": data_spec.license, "config": config}


def write_state_dict(encoder: Any, options: Any, dataset: Any, folder: Path) -> dict[str, Any]:
    """The export of a model without ``ModelSpec.export``: its ``state_dict`` as safetensors."""
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().clone().contiguous() for k, v in encoder.state_dict().items()},
              str(folder / WEIGHTS_FILE))
    return {"library_name": "sslbench", "tags": [],
            "load": "# in an sslbench config: the same model, its weights from this folder\n"
                    "# [models.<model>]\n# weights = \"DIR\"\n"
                    "from safetensors.torch import load_file\nstate = load_file(\"DIR/model.safetensors\")  # the encoder's state_dict"}


def _meta(rebuilt: Mapping[str, Any], manifest: Mapping[str, Any], key: tuple[str, str, str], seed: int,
          facts: Mapping[str, Any]) -> dict[str, Any]:
    """``sslbench.json``: what the encoder is, how it was made and what feeds it."""
    from sslbench.options import options_as_dict

    dataset_name, task, model = key
    config = rebuilt["config"]
    options = {k: v for k, v in options_as_dict(rebuilt["options"]).items() if k != WEIGHTS_OPTION}
    info = {k: v for k, v in rebuilt["dataset"].info.items() if _plain(v)}
    imported = getattr(rebuilt["encoder"], "weights_provenance", None)
    return {
        "format": 1, "dataset": dataset_name, "task": task, "model": model, "seed": seed,
        "modality": rebuilt["modality"], "embed_dim": int(rebuilt["encoder"].embed_dim),
        "model_options": options, "dataset_options": (config.get("datasets") or {}).get(dataset_name, {}),
        "modality_options": (config.get("modalities") or {}).get(rebuilt["modality"], {}),
        "task_options": (config.get("tasks") or {}).get(task, {}), "info": info,
        "library_name": facts.get("library_name", "sslbench"), "data_license": rebuilt["data_license"],
        "imported_weights": imported or None, "weights_license": facts.get("weights_license", ""),
        "config_hash": manifest.get("config_hash", ""), "provenance": manifest.get("provenance", {}),
    }


def _plain(value: Any) -> bool:
    """JSON-writable without loss (numbers, strings, lists and dicts of them)."""
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False

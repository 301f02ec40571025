"""Peer check of the finetune head on every built-in encoder: with the encoder frozen, the head (started from
the probe's fit, LP-FT, then trained by AdamW on standardised features) lands within 2 points of the linear
probe (L-BFGS) on the same frozen features — for every built-in model at its random init, and for one per
modality briefly pretrained (a few steps of the modality's own self-supervised task), whose feature scales are
what left the old raw-feature head far below the probe.

Both read the cell's cached embeddings (one encoder pass per split), so each case takes a second or a few.
The data are fabricated with a class signal in the real formats of each plugin; the full matrix on these data
(3 seeds, 100 pretraining steps, and the randomly drawn head beside LP-FT) is benchmarks/finetune-head/run.py.
"""
from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path

import pandas as pd
import pytest
import torch

from sslbench import DatasetContext, EvalContext, LoadedDataset, ModelContext, TaskContext, TensorSplit
from sslbench.plan.config import RunConfig
from sslbench.plugins import make_plugin_manager
from sslbench.registry import Registry
from sslbench.run.train import pretrain
from sslbench.splits import carve_valid, stratified_subset
from sslbench_eval.finetune import FinetuneOptions, run_finetune
from sslbench_eval.linear_probe import LinearProbeOptions, run_linear_probe

MODULES = ("sslbench_image.plugin", "sslbench_text.plugin", "sslbench_audio.plugin", "sslbench_recsys.plugin",
           "sslbench_eval.plugin")
HEAD = FinetuneOptions(steps=300, batch_size=256, lr_grid=(1e-2, 1e-3), freeze_encoder=True)  # LP-FT: head_init "probe", the default


@pytest.fixture(scope="module")
def peer_registry() -> Registry:
    return Registry(make_plugin_manager(autoload=False, modules=MODULES))


@pytest.fixture(scope="module")
def peer_data(peer_registry, tmp_path_factory) -> dict:
    """Each modality's data, built once for its two cases (the text tokenizer is trained once)."""
    built: dict = {}

    def get(modality: str) -> tuple[LoadedDataset, str, Path]:
        if modality not in built:
            root = tmp_path_factory.mktemp(modality)
            built[modality] = (*CASES[modality][0](root, peer_registry), root)
        return built[modality]

    return get


def rows(split: TensorSplit, index: torch.Tensor, labels: dict[str, torch.Tensor] | None = None) -> TensorSplit:
    """The samples ``index`` of ``split`` (with ``labels`` instead of its own when given)."""
    chosen = labels if labels is not None else split.labels
    return TensorSplit({k: v[index] for k, v in split.data.items()}, labels={k: v[index] for k, v in chosen.items()},
                       finish=split.finish)


def digits(root: Path, registry: Registry) -> tuple[LoadedDataset, str]:
    """scikit-learn's 8×8 digits through the image plugin (bundled with scikit-learn: no download); 600 of
    its train digits (a fixed stratified draw), which keeps the probe's five L-BFGS fits to a second."""
    spec = registry.get("dataset", "digits")
    data = spec.build(DatasetContext(data_root=root, progress=False), spec.options(test_fraction=0.5))
    keep = stratified_subset(data.train.labels["digit"], 600)
    return dataclasses.replace(data, train=rows(data.train, keep)), "digit"


def topics(root: Path, registry: Registry) -> tuple[LoadedDataset, str]:
    """300 + 300 documents of 3 topics, a tenth of each document's words topical, the rest shared."""
    from sslbench_text.datasets import build_text_dataset
    from sslbench_text.options import TextDataOptions

    words = {"pets": "cat dog fur paw tail bark purr kitten", "space": "star orbit planet rocket moon comet",
             "food": "bread cheese soup salt bake oven pasta sauce"}
    common = "the a of and to in is was for on with as by at from it this that".split()
    rng = random.Random(0)
    docs = [(" ".join(rng.choice(words[t].split()) if rng.random() < 0.1 else rng.choice(common) for _ in range(30)), t)
            for t in (list(words)[i % 3] for i in range(600))]
    options = TextDataOptions(max_length=32, vocab_size=200, min_frequency=1, valid_docs=60)
    return build_text_dataset(DatasetContext(data_root=root, progress=False), "20newsgroups", docs[:300], docs[300:],
                              options), "topic"


def clips(root: Path, registry: Registry) -> tuple[LoadedDataset, str]:
    """1,500 clips of 16-24 frames × 12 features, 3 classes, each a weak per-class spectral tilt in noise."""
    from sslbench_audio import batching, datasets

    g = torch.Generator().manual_seed(0)
    n, t, f = 1500, 24, 12
    y = torch.arange(n) % 3
    lengths = torch.randint(16, t + 1, (n,), generator=g)
    tilt = torch.randn(3, f, generator=g)
    frames = torch.randn(n, t, f, generator=g) + 0.2 * tilt[y][:, None, :]
    frames[batching.lengths_to_mask(lengths, t).logical_not()] = 0.0
    split = batching.AudioSplit(frames, lengths, {"label": y}, {"label": ["a", "b", "c"]})
    return datasets.loaded_dataset(batching.train_test_splits(split, "label", valid_fraction=0.2), "label"), "label"


def sessions(root: Path, registry: Registry) -> tuple[LoadedDataset, str]:
    """300 users' histories of 60 items in 3 groups, 100 of them held out as valid (30% from the user's group, the rest from any); class = the majority group
    of a history's items (recsys datasets carry no class label set; this one is for the peer check only)."""
    from sslbench_recsys import datasets, interactions
    from sslbench_recsys.options import MovieLens100kOptions

    rng = random.Random(0)
    log_rows = []
    for u in range(300):
        for time in range(8 + u % 6):
            group = u % 3 if rng.random() < 0.3 else rng.randrange(3)
            log_rows.append((f"u{u}", f"i{group}-{rng.randrange(20)}", str(time)))
    log = interactions.clean_log(pd.DataFrame(log_rows, columns=["user", "item", "time"]), "peer", user_col="user",
                                 item_col="item", time_col="time")
    data = datasets.to_loaded_dataset("peer", log, MovieLens100kOptions().max_len)
    keys = data.extras["item_keys"]
    group_of = torch.tensor([-1] + [int(k[1]) for k in keys] + [-1] * (data.info["vocab_size"] - len(keys) - 1))

    def group(split: TensorSplit) -> dict[str, torch.Tensor]:
        groups = torch.where(split.data["mask"], group_of[split.data["items"]], -1)  # (N, L), -1 off real items
        return {"group": torch.stack([(groups == c).sum(1) for c in range(3)], dim=1).argmax(1)}

    labels = group(data.train)
    valid, train = carve_valid(labels["group"], 100)
    return LoadedDataset(pretrain=data.pretrain, train=rows(data.train, train, labels), info=data.info,
                         test=rows(data.test, torch.arange(len(data.test)), group(data.test)),
                         valid=rows(data.train, valid, labels), extras=data.extras), "group"


CASES = {  # modality: (data, model, its self-supervised task)
    "image": (digits, "cnn-small", "simclr"),
    "text": (topics, "bert-tiny", "mlm"),
    "audio": (clips, "audio-transformer-tiny", "masked-frames"),
    "recsys": (sessions, "item-embedding", "cooccurrence"),
}


def encoder_for(registry: Registry, modality: str, data: LoadedDataset, trained: bool, root: Path) -> torch.nn.Module:
    """The case's built-in encoder at its random init (seed 0), or after 15 steps of its self-supervised task."""
    _, model, task = CASES[modality]
    torch.manual_seed(0)
    spec = registry.get("model", model)
    encoder = spec.build(ModelContext(dataset="peer", modality=modality, info=data.info), spec.options())
    if trained:
        modality_spec, task_spec = registry.get("modality", modality), registry.get("task", task)
        views = modality_spec.build(data.info, modality_spec.options())
        built = task_spec.build(TaskContext(encoder=encoder, modality=views, dataset=data, cache_dir=root),
                                task_spec.options())
        run = RunConfig(steps=15, batch_size=32, lr=1e-3, pin_memory=False)
        pretrain(built, data.split(task_spec.split), run, torch.device("cpu"), seed=0)
    return encoder.requires_grad_(False).eval()


BUILT_IN_MODELS = {  # every built-in model but the generic `timm` (its architecture is whatever the user names)
    "image": ["cnn-small", "resnet18", "patch-transformer"],
    "text": ["bert-tiny", "bert-mini", "bert-small"],
    "audio": ["audio-transformer-tiny", "audio-transformer-small"],
    "recsys": ["item-embedding", "item-transformer"],
}


def test_every_built_in_model_is_in_the_peer_check(peer_registry):
    listed = {model for models in BUILT_IN_MODELS.values() for model in models}
    assert set(peer_registry.names("model")) - {"timm"} == listed


def assert_head_matches_probe(encoder: torch.nn.Module, data: LoadedDataset, label_set: str, case: tuple) -> None:
    """The frozen head's test top-1 within 0.02 of the probe's, on ``encoder``'s cached embeddings."""
    ctx = EvalContext(encoder=encoder, task=None, dataset=data, modality=None, label_set=label_set,
                      device=torch.device("cpu"), seed=0)
    probe = run_linear_probe(ctx, LinearProbeOptions())["top1"]
    head = run_finetune(ctx, HEAD)["top1"]
    chance = 1 / len(data.train.labels[label_set].unique())
    assert probe > chance + 0.1, (case, probe)  # the data carry a signal the probe reads
    assert math.isclose(head, probe, abs_tol=0.02), (case, head, probe)


@pytest.mark.parametrize(("modality", "model"), [(m, name) for m, names in BUILT_IN_MODELS.items() for name in names])
def test_a_frozen_finetune_head_is_within_2_points_of_the_probe_at_random_init(modality, model, peer_registry,
                                                                                peer_data):
    data, label_set, _ = peer_data(modality)
    torch.manual_seed(0)
    spec = peer_registry.get("model", model)
    encoder = spec.build(ModelContext(dataset="peer", modality=modality, info=data.info), spec.options())
    assert_head_matches_probe(encoder.requires_grad_(False).eval(), data, label_set, (model, "random-init"))


@pytest.mark.parametrize("modality", list(CASES))
def test_a_frozen_finetune_head_is_within_2_points_of_the_probe_after_pretraining(modality, peer_registry, peer_data):
    data, label_set, root = peer_data(modality)
    encoder = encoder_for(peer_registry, modality, data, True, root)
    assert_head_matches_probe(encoder, data, label_set, (CASES[modality][1], "15 steps"))

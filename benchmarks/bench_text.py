"""Training throughput of the text ``mlm-nsp`` cell against transformers' ``Trainer``.

Both sides train the same ``BertConfig`` (bert-tiny, the cell's vocabulary and
positions) on the same pre-tokenised NSP pairs from 20 Newsgroups (drawn once and
padded to the full pair width T), with the same batch size, steps, AdamW learning
rate, weight decay and cosine schedule, on the same device and torch threads:

* sslbench: the plugin's ``mlm-nsp`` task around its ``bert-tiny`` encoder, built by
  the plugin's factories and trained by sslbench's one loop (``sslbench.run.train.pretrain``),
  masking on the fly (BERT 80/10/10) and computing vocabulary logits at the masked
  positions only;
* transformers: ``Trainer`` with ``BertForPreTraining`` (logits at every position)
  and ``DataCollatorForLanguageModeling(mlm_probability=0.15)`` — the usual script —
  with ``use_cpu`` without a GPU (bf16 on CUDA, as sslbench's autocast), ``report_to=[]``,
  no checkpoints or logging, the tokenizer built locally (no hub).

Clock: the time between the starts of consecutive steps (sslbench: when the loop
gathers a batch; Trainer: ``on_step_begin``), the first ``WARMUP`` steps left out on
both sides (sslbench counts FLOPs on its first step). Tokens/s = B × T / median step
time. The sides alternate (Trainer-sslbench, sslbench-Trainer, …) for ``ROUNDS``
rounds; the ratio is the median of the rounds' ratios (sslbench ÷ Trainer, > 1:
sslbench faster). The entry goes to ``results/bench/bench_text.json`` (``conftest.py``).

Run (a few minutes on 2 CPU cores; the data comes from ``$SSLBENCH_DATA``)::

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest benchmarks/bench_text.py --benchmark-only -s
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from bench_runner import StampedSplit, step_times
from conftest import synchronize

STEPS = 40  # optimizer steps per run, warmup included
WARMUP = 5  # steps left out of the timing on both sides
BATCH = 32  # sequences per step, both sides
MAX_LENGTH = 128  # model length; pairs are [CLS] A [SEP] B [SEP] of 2 × 62 tokens, T = 127
ROUNDS = int(os.environ.get("SSLBENCH_BENCH_ROUNDS", "2"))  # alternating runs of each side
LR, WEIGHT_DECAY, WARMUP_FRACTION = 1e-3, 1e-4, 0.1


@pytest.fixture(scope="module")
def corpus(data_ctx):
    """20 Newsgroups (a 1,000-document subset) and STEPS × BATCH fixed pairs at one width: (batch, dataset)."""
    from sslbench_text import datasets

    options = datasets.TextDataOptions(pretrain_docs=1000, train_docs=100, test_docs=100, max_length=MAX_LENGTH)
    ds = datasets.load_20newsgroups(data_ctx, options)
    torch.manual_seed(0)
    return fixed_pairs(ds.extra_splits[datasets.PAIRS_SPLIT], STEPS * BATCH, ds.info["pad_token_id"]), ds


def fixed_pairs(pairs: Any, count: int, pad_id: int) -> dict[str, torch.Tensor]:
    """``count`` NSP pairs drawn once and padded to the full pair width T = 2L + 3.

    Shape:
        input_ids, attention_mask, token_type_ids (count, T); next_sentence_label (count,)
    """
    batch = pairs.batch(torch.randint(len(pairs), (count,)))  # trimmed to its longest row
    pad = 2 * pairs.finish.store.segment_length + 3 - batch["input_ids"].shape[1]
    return {k: torch.nn.functional.pad(v, (0, pad), value=pad_id if k == "input_ids" else 0) if v.ndim == 2 else v
            for k, v in batch.items()}


def sslbench_step_seconds(batch: dict, ds: Any, device: torch.device) -> list[float]:
    """Train the plugin's mlm-nsp cell with sslbench's loop on ``batch``; seconds of each timed step."""
    from sslbench_text import modality, models, tasks

    from sslbench import ModelContext, TaskContext, TensorSplit
    from sslbench.plan.config import RunConfig
    from sslbench.run.train import pretrain

    torch.manual_seed(0)
    encoder = models.bert_builder("bert-tiny")(ModelContext("20newsgroups", "text", ds.info), models.BertOptions())
    text = modality.build_text_modality(ds.info, modality.TextViewOptions())
    task = tasks.build_mlm_nsp(TaskContext(encoder, text, ds, Path(".")), tasks.MLMNSPOptions())
    run = RunConfig(steps=STEPS, batch_size=BATCH, lr=LR, weight_decay=WEIGHT_DECAY,
                    warmup_fraction=WARMUP_FRACTION, schedule="cosine")
    stamped = StampedSplit(TensorSplit(batch), device)
    pretrain(task, stamped, run, device, seed=0)
    return step_times(stamped.stamps, WARMUP)


def trainer_step_seconds(batch: dict, ds: Any, out_dir: Path, device: torch.device) -> list[float]:
    """Train ``BertForPreTraining`` with ``Trainer`` and HF's MLM collator on ``batch``; seconds of each timed step."""
    from sslbench_text.models import bert_config
    from transformers import (
        BertForPreTraining,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    stamps: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            synchronize(device)
            stamps.append(time.perf_counter())

        def on_train_end(self, args, state, control, **kwargs):
            synchronize(device)
            stamps.append(time.perf_counter())

    torch.manual_seed(0)
    model = BertForPreTraining(bert_config("bert-tiny", ds.info["vocab_size"], max_positions=MAX_LENGTH))
    features = [{k: v[i] for k, v in batch.items()} for i in range(len(batch["input_ids"]))]
    args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=BATCH, max_steps=STEPS, learning_rate=LR,
        weight_decay=WEIGHT_DECAY, lr_scheduler_type="cosine", warmup_steps=int(WARMUP_FRACTION * STEPS),
        use_cpu=device.type == "cpu", bf16=device.type == "cuda", report_to=[], save_strategy="no",
        logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0, seed=0,
    )
    collator = DataCollatorForLanguageModeling(ds.extras["tokenizer"], mlm_probability=0.15)
    Trainer(model=model, args=args, train_dataset=features, data_collator=collator, callbacks=[Clock()]).train()
    return step_times(stamps, WARMUP)


def test_mlm_nsp_tokens_per_s_against_trainer(benchmark, corpus, tmp_path, device, record):
    batch, ds = corpus
    width = int(batch["input_ids"].shape[1])
    ours: list[float] = []  # median step seconds per round
    theirs: list[float] = []

    def run_ours() -> None:
        ours.append(statistics.median(sslbench_step_seconds(batch, ds, device)))

    def run_theirs() -> None:
        theirs.append(statistics.median(trainer_step_seconds(batch, ds, tmp_path / f"hf{len(theirs)}", device)))

    def rounds() -> None:
        for r in range(ROUNDS):
            for side in ((run_theirs, run_ours) if r % 2 == 0 else (run_ours, run_theirs)):
                side()

    benchmark.pedantic(rounds, rounds=1, iterations=1)
    round_ratios = [t / o for o, t in zip(ours, theirs)]  # tokens/s ratio = inverse step-time ratio
    ratio = statistics.median(round_ratios)
    tokens = {side: round(BATCH * width / statistics.median(times)) for side, times in
              (("sslbench", ours), ("trainer", theirs))}
    entry = {"tokens_per_s": tokens, "ratio_sslbench_over_trainer": round(ratio, 3),
             "round_ratios": [round(x, 3) for x in round_ratios], "steps": STEPS, "warmup_steps": WARMUP,
             "batch": BATCH, "width": width, "rounds": ROUNDS}
    benchmark.extra_info.update(entry)
    record("text-mlm-nsp-vs-trainer", f"mlm-nsp bert-tiny B={BATCH} T={width}: sslbench {tokens['sslbench']} "
           f"tokens/s, Trainer {tokens['trainer']} tokens/s, ratio {ratio:.2f}", **entry)
    assert ratio > 0

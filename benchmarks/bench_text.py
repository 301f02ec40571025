"""Training throughput of the text ``mlm-nsp`` cell against transformers' ``Trainer``.

Both sides train the same ``BertConfig`` (bert-tiny, the cell's vocabulary and
length) on the same pre-tokenised NSP pairs from 20 Newsgroups (drawn once, padded
to one width T), with the same batch size, steps, AdamW learning rate, weight decay
and cosine schedule, on the same number of torch threads:

* sslbench: the plugin's ``mlm-nsp`` task around its ``bert-tiny`` encoder, trained
  by sslbench's one training loop (``sslbench.train.pretrain``), masking on the fly;
* transformers: ``Trainer`` with ``BertForPreTraining`` and
  ``DataCollatorForLanguageModeling(mlm_probability=0.15)`` (``use_cpu`` without a
  GPU, ``report_to=[]``, no checkpoints), tokenizer built locally.

Tokens/s = steps × B × T / seconds of the training loop (Trainer: ``on_train_begin``
to ``on_train_end``). The two run alternately ``ROUNDS`` times; the reported ratio
is sslbench's median tokens/s ÷ Trainer's median tokens/s (> 1: sslbench faster).

The result is also written to ``results/bench/bench_text.json`` (see ``conftest.py``).

Run (a few minutes on 2 CPU cores; the data comes from ``$SSLBENCH_DATA``)::

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest benchmarks/bench_text.py --benchmark-only -s
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
import torch

STEPS = 40  # optimizer steps per measured run
BATCH = 32  # sequences per step, both sides
MAX_LENGTH = 128  # the quick text grid's model length; pairs are [CLS] A [SEP] B [SEP] of 2 × 62 tokens
ROUNDS = 2  # alternating runs of each side
LR, WEIGHT_DECAY, WARMUP = 1e-3, 1e-4, 0.1


@pytest.fixture(scope="module")
def corpus(data_ctx):
    """20 Newsgroups (a 1,000-document subset) with fixed pairs at one width: (pairs batch, dataset)."""
    from sslbench_text import datasets

    options = datasets.TextDataOptions(pretrain_docs=1000, train_docs=100, test_docs=100, max_length=MAX_LENGTH)
    ds = datasets.load_20newsgroups(data_ctx, options)
    pairs = ds.extra_splits[datasets.PAIRS_SPLIT]
    torch.manual_seed(0)
    return fixed_pairs(pairs, STEPS * BATCH, ds.info["pad_token_id"]), ds


def fixed_pairs(pairs, count: int, pad_id: int) -> dict[str, torch.Tensor]:
    """``count`` NSP pairs drawn once and padded to the full pair width T = 2L + 3.

    Shape:
        input_ids, attention_mask, token_type_ids (count, T); next_sentence_label (count,)
    """
    batch = pairs.batch(torch.randint(len(pairs), (count,)))  # trimmed to its longest row
    pad = 2 * pairs.finish.store.segment_length + 3 - batch["input_ids"].shape[1]
    return {k: torch.nn.functional.pad(v, (0, pad), value=pad_id if k == "input_ids" else 0) if v.ndim == 2 else v
            for k, v in batch.items()}


def sslbench_tokens_per_s(batch: dict, ds, device: torch.device) -> float:
    """Train the plugin's mlm-nsp cell with sslbench's loop on ``batch``; tokens/s."""
    from sslbench import ModelContext, TaskContext, TensorSplit
    from sslbench.config import RunConfig
    from sslbench.train import pretrain
    from sslbench_text import modality, models, tasks

    torch.manual_seed(0)
    encoder = models.bert_builder("bert-tiny")(ModelContext("20newsgroups", "text", ds.info), models.BertOptions())
    text = modality.build_text_modality(ds.info, modality.TextViewOptions())
    task = tasks.build_mlm_nsp(TaskContext(encoder, text, ds, Path(".")), tasks.MLMNSPOptions())
    run = RunConfig(steps=STEPS, batch_size=BATCH, lr=LR, weight_decay=WEIGHT_DECAY, warmup_fraction=WARMUP,
                    schedule="cosine")
    result = pretrain(task, TensorSplit(batch), run, device, seed=0)
    return STEPS * BATCH * batch["input_ids"].shape[1] / result.seconds


def trainer_tokens_per_s(batch: dict, ds, out_dir: Path, device: torch.device) -> float:
    """Train ``BertForPreTraining`` with ``Trainer`` and HF's MLM collator on ``batch``; tokens/s."""
    from transformers import BertForPreTraining, DataCollatorForLanguageModeling, Trainer, TrainerCallback, TrainingArguments

    from sslbench_text.models import bert_config

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_train_end(self, args, state, control, **kwargs):
            self.seconds = time.perf_counter() - self.start

    torch.manual_seed(0)
    model = BertForPreTraining(bert_config("bert-tiny", ds.info["vocab_size"], max_positions=MAX_LENGTH))
    features = [{k: v[i] for k, v in batch.items()} for i in range(len(batch["input_ids"]))]
    args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=BATCH, max_steps=STEPS, learning_rate=LR,
        weight_decay=WEIGHT_DECAY, lr_scheduler_type="cosine", warmup_steps=int(WARMUP * STEPS),
        use_cpu=device.type == "cpu", bf16=device.type == "cuda", report_to=[], save_strategy="no", logging_strategy="no",
        disable_tqdm=True, dataloader_num_workers=0, seed=0,
    )
    clock = Clock()
    collator = DataCollatorForLanguageModeling(ds.extras["tokenizer"], mlm_probability=0.15)
    Trainer(model=model, args=args, train_dataset=features, data_collator=collator, callbacks=[clock]).train()
    return STEPS * BATCH * batch["input_ids"].shape[1] / clock.seconds


def test_mlm_nsp_tokens_per_s_against_trainer(benchmark, corpus, tmp_path, device, record):
    batch, ds = corpus
    ours, theirs = [], []

    def one_round() -> None:
        theirs.append(trainer_tokens_per_s(batch, ds, tmp_path / f"hf{len(theirs)}", device))
        ours.append(sslbench_tokens_per_s(batch, ds, device))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    ratio = statistics.median(ours) / statistics.median(theirs)
    width = int(batch["input_ids"].shape[1])
    entry = {"sslbench_tokens_per_s": [round(x) for x in ours], "trainer_tokens_per_s": [round(x) for x in theirs],
             "ratio_sslbench_over_trainer": round(ratio, 3), "steps": STEPS, "batch": BATCH, "width": width}
    benchmark.extra_info.update(entry)
    record("text-mlm-nsp-vs-trainer", f"mlm-nsp bert-tiny B={BATCH} T={width}: sslbench {statistics.median(ours):.0f} "
           f"tokens/s, Trainer {statistics.median(theirs):.0f} tokens/s, ratio {ratio:.2f}", **entry)
    assert ratio > 0

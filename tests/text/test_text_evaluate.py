"""mlm-accuracy: baselines computed right, fixed positions, and it rises above them with training."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from sslbench import EvalContext, LoadedDataset
from sslbench_text import evaluate, models, segments, splits, tasks
from sslbench_text import tokenizer as tk
from sslbench_text.modality import TextModality, TextViewOptions

PAD, CLS, SEP, MASK = 0, 2, 3, 4
SPECIAL = [0, 1, 2, 3, 4]
V = 12
TOY = TextModality({"vocab_size": V, "mask_token_id": MASK, "pad_token_id": PAD, "special_ids": SPECIAL},
                   TextViewOptions())


def toy_store(docs, L=4):
    flat = torch.tensor([i for d in docs for i in d])
    lengths = torch.tensor([len(d) for d in docs])
    return segments.cut_segments(flat, lengths, L, cls_id=CLS, sep_id=SEP, pad_id=PAD)


def toy_docs(n=200, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(5, V, (int(k),), generator=gen).tolist() for k in torch.randint(1, 30, (n,), generator=gen)]


def context(encoder, task, pretrain, test, modality=TOY, extras=None):
    dataset = LoadedDataset(pretrain=pretrain, train=test, test=test, extras=extras or {})
    return EvalContext(encoder=encoder, task=task, dataset=dataset, modality=modality, label_set=None,
                       device=torch.device("cpu"), seed=0)


class OneHot(torch.nn.Module):
    """'Encoder' whose features are the one-hot input tokens."""

    def forward(self, batch):
        return SimpleNamespace(sequence=F.one_hot(batch["input_ids"], V).float())


def test_counts_skip_padding_and_special_tokens():
    store = toy_store([[5, 5, 6], [7, 5, 1, 1, 1, 1, 1]])  # pads in short segments, [UNK] (1) most common
    counts = evaluate.token_counts(TOY, splits.single_split(store), chunk=2)
    assert counts.tolist() == [0, 0, 0, 0, 0, 3, 1, 1, 0, 0, 0, 0]


def test_baselines_equal_their_definitions_and_positions_are_fixed():
    pretrain = splits.single_split(toy_store([[7] * 50 + [9] * 10]))  # 7 is the unigram token
    held_out = splits.single_split(toy_store(toy_docs()))
    unigram_head = SimpleNamespace(logits=lambda x: F.one_hot(torch.full(x.shape[:1], 7), V).float())
    copy_head = SimpleNamespace(  # the visible token, or 7 under [MASK]
        logits=lambda x: x + 2 * x[:, MASK : MASK + 1] * F.one_hot(torch.tensor(7), V).float())
    options = evaluate.MLMAccuracyOptions(seed=3, batch_size=7)
    baselines = evaluate.mlm_accuracy_baselines(context(OneHot(), None, pretrain, held_out), options)
    unigram = evaluate.run_mlm_accuracy(context(OneHot(), unigram_head, pretrain, held_out), options)
    copy = evaluate.run_mlm_accuracy(context(OneHot(), copy_head, pretrain, held_out),
                                     evaluate.MLMAccuracyOptions(seed=3, batch_size=1000))
    assert unigram == baselines["unigram"]  # the same positions, whatever the batch size
    assert copy["top1"] == baselines["copy-unigram"]["top1"]
    assert copy["top1_at_mask"] == unigram["top1_at_mask"]  # under [MASK] both predict 7
    # the copy baseline gains the ~10% unchanged positions over the plain unigram baseline
    assert copy["top1"] - unigram["top1"] == pytest.approx(0.1 * (1 - 1 / V), abs=0.04)
    assert unigram["top1"] == pytest.approx(1 / 7, abs=0.04)  # held-out tokens are uniform over 7 ids
    other_seed = evaluate.mlm_accuracy_baselines(context(OneHot(), None, pretrain, held_out),
                                                 evaluate.MLMAccuracyOptions(seed=4))
    assert other_seed != baselines
    # the dataset's precomputed counts are used when given
    given = torch.zeros(V, dtype=torch.long)
    given[9] = 1
    with_counts = context(OneHot(), None, pretrain, held_out, extras={"pretrain_token_counts": given})
    assert evaluate.mlm_accuracy_baselines(with_counts, options)["unigram"]["top1"] != baselines["unigram"]["top1"]


def test_options_are_checked():
    with pytest.raises(ValueError, match=r"mlm_probability: must be in \(0, 1\]"):
        evaluate.MLMAccuracyOptions(mlm_probability=0)
    with pytest.raises(ValueError, match="max_samples: must be >= 0"):
        evaluate.MLMAccuracyOptions(max_samples=-1)


def test_accuracy_rises_above_baselines_after_pretraining():
    texts = ["the cat sat on the mat", "a dog ran in the park", "the cat sat on the mat"] * 20
    tok = tk.train_wordpiece(texts, tk.TokenizerSettings(vocab_size=60, min_frequency=1))
    store = segments.build_segments(texts, tok, 6)
    info = {"vocab_size": len(tok), "mask_token_id": tok.mask_token_id, "pad_token_id": tok.pad_token_id,
            "special_ids": tk.special_token_ids(tok)}
    text = TextModality(info, TextViewOptions())
    torch.manual_seed(0)
    encoder = models.create_bert_encoder("bert-tiny", len(tok), max_positions=16, dropout=0.0)
    task = tasks.MLMTask(encoder, text)
    split = splits.single_split(store)
    options = evaluate.MLMAccuracyOptions(mlm_probability=0.3)
    ctx = context(encoder.eval(), task, split, split, text)
    baselines = evaluate.mlm_accuracy_baselines(ctx, options)
    before = evaluate.run_mlm_accuracy(ctx, options)
    optimizer = torch.optim.AdamW(task.parameters(), lr=3e-3)
    task.train()
    for _ in range(40):
        loss = task(split.batch(torch.randint(len(split), (16,))))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = evaluate.run_mlm_accuracy(context(encoder.eval(), task.eval(), split, split, text), options)
    assert before["top1"] < baselines["copy-unigram"]["top1"]
    assert after["top1"] > baselines["copy-unigram"]["top1"] + 0.2 and after["top1_at_mask"] > 0.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_scores_the_same_positions_as_cpu():
    texts = ["the cat sat on the mat", "a dog ran in the park"] * 10
    tok = tk.train_wordpiece(texts, tk.TokenizerSettings(vocab_size=60, min_frequency=1))
    split = splits.single_split(segments.build_segments(texts, tok, 6))
    info = {"vocab_size": len(tok), "mask_token_id": tok.mask_token_id, "pad_token_id": tok.pad_token_id,
            "special_ids": tk.special_token_ids(tok)}
    text = TextModality(info, TextViewOptions())
    torch.manual_seed(0)
    encoder = models.create_bert_encoder("bert-tiny", len(tok), max_positions=16).eval()
    task = tasks.MLMTask(encoder, text).eval()
    cpu = evaluate.run_mlm_accuracy(context(encoder, task, split, split, text), evaluate.MLMAccuracyOptions())
    task.cuda()
    ctx = context(encoder, task, split, split, text)
    ctx.device = torch.device("cuda")
    gpu = evaluate.run_mlm_accuracy(ctx, evaluate.MLMAccuracyOptions())
    assert gpu["top1"] == pytest.approx(cpu["top1"], abs=0.02)
    batch = {k: v.cuda() for k, v in split.batch(torch.arange(8)).items()}
    assert torch.isfinite(task(batch)["loss"])

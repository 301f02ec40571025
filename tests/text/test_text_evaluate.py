"""MLM accuracy: baselines computed right, fixed positions, and it rises above them with training."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from sslbench_text import evaluate, models, segments, tasks
from sslbench_text import tokenizer as tk

PAD, CLS, SEP, MASK = 0, 2, 3, 4
SPECIAL = [0, 1, 2, 3, 4]
V = 12


def toy_store(docs, L=4):
    flat = torch.tensor([i for d in docs for i in d])
    lengths = torch.tensor([len(d) for d in docs])
    return segments.cut_segments(flat, lengths, L, cls_id=CLS, sep_id=SEP, pad_id=PAD)


class OneHot(torch.nn.Module):
    """'Encoder' whose features are the one-hot input tokens."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, batch):
        return SimpleNamespace(sequence=F.one_hot(batch["input_ids"], V).float())


def test_counts_and_unigram_token_skip_padding_and_specials():
    store = toy_store([[5, 5, 6], [7, 5, 1, 1, 1, 1, 1]])  # pads in short segments, [UNK] most common
    counts = evaluate.token_counts(store, V)
    assert counts.tolist() == [0, 5, 0, 0, 0, 3, 1, 1, 0, 0, 0, 0]
    assert evaluate.most_frequent_token(counts, SPECIAL) == 5


def test_baselines_equal_their_definitions_and_positions_are_fixed():
    gen = torch.Generator().manual_seed(0)
    docs = [torch.randint(5, V, (int(n),), generator=gen).tolist() for n in torch.randint(1, 30, (200,), generator=gen)]
    held_out = toy_store(docs)
    counts = torch.zeros(V, dtype=torch.long)
    counts[[0, 7, 9]] = torch.tensor([100, 50, 10])  # [PAD] most frequent in "pretraining", then 7
    kwargs = {"pretrain_counts": counts, "mask_token_id": MASK, "special_ids": SPECIAL, "seed": 3}
    encoder = OneHot()

    def unigram_head(x):  # always token 7
        return F.one_hot(torch.full(x.shape[:1], 7), V).float()

    def copy_unigram_head(x):  # the visible token, or 7 under [MASK]
        return x + 2 * x[:, MASK : MASK + 1] * F.one_hot(torch.tensor(7), V).float()

    unigram = evaluate.mlm_accuracy(encoder, unigram_head, held_out, batch_size=7, **kwargs)
    copy = evaluate.mlm_accuracy(encoder, copy_unigram_head, held_out, batch_size=1000, **kwargs)
    assert unigram.unigram_token == 7 and unigram.positions == copy.positions > 100
    assert unigram.accuracy == unigram.unigram_accuracy and unigram.accuracy_at_mask == pytest.approx(unigram.unigram_accuracy, abs=0.05)
    assert copy.accuracy == copy.copy_unigram_accuracy  # same positions regardless of batch size
    # the copy baseline gains the ~10% unchanged positions over the plain unigram baseline
    assert copy.copy_unigram_accuracy - copy.unigram_accuracy == pytest.approx(0.1 * (1 - 1 / V), abs=0.04)
    other_seed = evaluate.mlm_accuracy(encoder, unigram_head, held_out, **{**kwargs, "seed": 4})
    assert other_seed.positions != unigram.positions or other_seed.accuracy != unigram.accuracy


def test_accuracy_rises_above_baselines_after_pretraining():
    texts = ["the cat sat on the mat", "a dog ran in the park", "the cat sat on the mat"] * 20
    tok = tk.train_wordpiece(texts, tk.TokenizerSettings(vocab_size=60, min_frequency=1))
    store = segments.build_segments(texts, tok, 6)
    torch.manual_seed(0)
    encoder = models.create_bert_encoder("bert-tiny", len(tok), max_positions=16, dropout=0.0)
    task = tasks.MLMTask(encoder, mask_token_id=tok.mask_token_id, special_ids=tk.special_token_ids(tok),
                         generator=torch.Generator().manual_seed(0))
    kwargs = {
        "pretrain_counts": evaluate.token_counts(store, len(tok)),
        "mask_token_id": tok.mask_token_id,
        "special_ids": tk.special_token_ids(tok),
        "mlm_probability": 0.3,
    }
    before = evaluate.mlm_accuracy(encoder, task.logits, store, **kwargs)
    optimizer = torch.optim.AdamW(task.parameters(), lr=3e-3)
    for _ in range(40):
        batch = segments.single_inputs(store, torch.randint(len(store), (16,)))
        loss = task(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = evaluate.mlm_accuracy(encoder, task.logits, store, **kwargs)
    assert encoder.training  # mode restored after evaluation
    assert before.accuracy < before.copy_unigram_accuracy
    assert after.accuracy > after.copy_unigram_accuracy + 0.2 and after.accuracy_at_mask > 0.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_scores_the_same_positions_as_cpu():
    texts = ["the cat sat on the mat", "a dog ran in the park"] * 10
    tok = tk.train_wordpiece(texts, tk.TokenizerSettings(vocab_size=60, min_frequency=1))
    store = segments.build_segments(texts, tok, 6)
    torch.manual_seed(0)
    encoder = models.create_bert_encoder("bert-tiny", len(tok), max_positions=16).eval()
    task = tasks.MLMTask(encoder, mask_token_id=tok.mask_token_id, special_ids=tk.special_token_ids(tok))
    kwargs = {
        "pretrain_counts": evaluate.token_counts(store, len(tok)),
        "mask_token_id": tok.mask_token_id,
        "special_ids": tk.special_token_ids(tok),
    }
    cpu = evaluate.mlm_accuracy(encoder, task.logits, store, **kwargs)
    task.cuda()
    gpu = evaluate.mlm_accuracy(encoder, task.logits, store, **kwargs)
    assert gpu.positions == cpu.positions and gpu.accuracy == pytest.approx(cpu.accuracy, abs=0.02)
    batch = {k: v.cuda() for k, v in segments.single_inputs(store, torch.arange(8)).items()}
    assert torch.isfinite(task(batch)["loss"])

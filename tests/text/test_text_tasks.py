"""MLM / NSP / MLM+NSP tasks against transformers' own BERT models with the same weights,
and their masking (through the ``tokens`` capability) against transformers' collator."""

import pytest
import torch
import torch.nn.functional as F
from transformers import (
    BertForMaskedLM,
    BertForNextSentencePrediction,
    BertForPreTraining,
    DataCollatorForLanguageModeling,
)

from sslbench_text import masking, models, tasks
from sslbench_text import tokenizer as tk
from sslbench_text.modality import TextModality, TextViewOptions

VOCAB, SPECIAL, MASK = 97, [0, 1, 2, 3, 4], 4
INFO = {"vocab_size": VOCAB, "mask_token_id": MASK, "pad_token_id": 0, "special_ids": SPECIAL}


def pair_batch(rows=6, width=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (rows, width), generator=gen)
    lengths = torch.randint(8, width + 1, (rows,), generator=gen)
    column = torch.arange(width)
    split = lengths // 2
    ids[:, 0] = 2
    ids = torch.where((column == split[:, None]) | (column == lengths[:, None] - 1), 3, ids)
    attention = (column < lengths[:, None]).long()
    return {
        "input_ids": ids * attention,
        "attention_mask": attention,
        "token_type_ids": ((column > split[:, None]) & (attention == 1)).long(),
        "next_sentence_label": torch.randint(2, (rows,), generator=gen),
    }


def premasked(batch, seed=0):
    ids, labels = masking.mask_tokens(
        batch["input_ids"], mask_token_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL,
        attention_mask=batch["attention_mask"], generator=torch.Generator().manual_seed(seed), mlm_probability=0.3,
    )
    assert (labels != -100).any()
    return {**batch, "input_ids": ids, "mlm_labels": labels}


def to_hf(task):
    """Task state dict → BertFor* key layout."""
    renamed = {}
    for key, value in task.state_dict().items():
        key = key.replace("encoder.bert.", "bert.", 1).replace("pooler.", "bert.pooler.", 1) if not key.startswith("cls.") else key
        renamed[key] = value
    return renamed


def load_peer(peer, task):
    missing, unexpected = peer.load_state_dict(to_hf(task), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return peer.eval()


@pytest.fixture
def encoder():
    torch.manual_seed(0)
    return models.create_bert_encoder("bert-tiny", VOCAB, max_positions=32)


@pytest.fixture
def text():
    return TextModality(INFO, TextViewOptions())


def test_mlm_loss_equals_bert_for_masked_lm(encoder, text):
    task = tasks.MLMTask(encoder, text).eval()
    assert task.cls.predictions.decoder.weight is encoder.token_embeddings().weight  # tied as in BERT
    assert task.cls.predictions.decoder.bias is task.cls.predictions.bias
    peer = load_peer(BertForMaskedLM(encoder.config), task)
    batch = premasked(pair_batch())
    with torch.no_grad():
        ours = task(batch)
        theirs = peer(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"], labels=batch["mlm_labels"],
        )
    assert ours["loss"].item() == pytest.approx(theirs.loss.item(), abs=1e-5)
    chosen = batch["mlm_labels"] != -100
    expected_acc = (theirs.logits[chosen].argmax(-1) == batch["mlm_labels"][chosen]).float().mean()
    assert ours["mlm_acc"].item() == pytest.approx(expected_acc.item())


def test_nsp_loss_equals_bert_for_next_sentence_prediction(encoder):
    task = tasks.NSPTask(encoder, tasks.NSPOptions()).eval()
    peer = load_peer(BertForNextSentencePrediction(encoder.config), task)
    batch = pair_batch()
    with torch.no_grad():
        ours = task(batch)
        theirs = peer(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"], labels=batch["next_sentence_label"],
        )
    assert ours["loss"].item() == pytest.approx(theirs.loss.item(), abs=1e-5)
    assert ours["nsp_acc"].item() == (theirs.logits.argmax(-1) == batch["next_sentence_label"]).float().mean().item()


def test_mlm_nsp_losses_equal_bert_for_pretraining(encoder, text):
    task = tasks.MLMNSPTask(encoder, text).eval()
    peer = load_peer(BertForPreTraining(encoder.config), task)
    batch = premasked(pair_batch(seed=1), seed=1)
    with torch.no_grad():
        ours = task(batch)
        theirs = peer(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"], labels=batch["mlm_labels"],
            next_sentence_label=batch["next_sentence_label"],
        )
    mlm = F.cross_entropy(theirs.prediction_logits.view(-1, VOCAB), batch["mlm_labels"].view(-1))
    nsp = F.cross_entropy(theirs.seq_relationship_logits, batch["next_sentence_label"])
    assert ours["mlm_loss"].item() == pytest.approx(mlm.item(), abs=1e-5)
    assert ours["nsp_loss"].item() == pytest.approx(nsp.item(), abs=1e-5)
    assert ours["loss"].item() == pytest.approx(theirs.loss.item(), abs=1e-5)


def test_task_masks_itself_from_the_global_generator_and_learns(encoder, text):
    batch = {k: v for k, v in pair_batch(rows=8).items() if k != "next_sentence_label"}
    torch.manual_seed(0)
    task = tasks.MLMTask(encoder, text).eval()

    def loss_after_seed(seed):
        torch.manual_seed(seed)  # the runner seeds the global generator; masking draws from it
        with torch.no_grad():
            return task(batch)["loss"].item()

    assert loss_after_seed(5) == loss_after_seed(5) != loss_after_seed(6)
    task.train()
    fixed = premasked({k: v[:4] for k, v in batch.items()}, seed=3)
    optimizer = torch.optim.AdamW(task.parameters(), lr=5e-3)
    first = None
    for _ in range(15):
        out = task(fixed)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        first = first if first is not None else out["loss"].item()
    assert out["loss"].item() < 0.5 * first  # memorises a fixed masked batch


def test_task_masking_matches_huggingface_collator_statistics():
    """The task's own corruption (tokens capability → mask_tokens) against DataCollatorForLanguageModeling."""
    texts = ["the quick brown fox jumps over the lazy dog", "pack my box with five dozen liquor jugs"] * 3
    tok = tk.train_wordpiece(texts, tk.TokenizerSettings(vocab_size=120, min_frequency=1))
    info = {"vocab_size": len(tok), "mask_token_id": tok.mask_token_id, "pad_token_id": tok.pad_token_id,
            "special_ids": tk.special_token_ids(tok)}
    encoded = tok([" ".join(texts[i % 2].split()[: 3 + i % 6]) for i in range(64)], padding=True, return_tensors="pt")
    batch = {k: encoded[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    masker = tasks.Masker(TextModality(info, TextViewOptions()), tasks.MLMOptions())
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, seed=0)
    torch.manual_seed(0)
    ours = [masker(batch) for _ in range(150)]
    theirs = [collator.torch_mask_tokens(batch["input_ids"].clone()) for _ in range(150)]
    ids = batch["input_ids"]
    eligible = batch["attention_mask"].bool() & ~torch.isin(ids, torch.tensor(tk.special_token_ids(tok)))

    def stats(corrupted, labels):
        chosen = labels != -100
        assert not (chosen & ~eligible).any() and torch.equal(labels[chosen], ids[chosen])
        assert torch.equal(corrupted[~chosen], ids[~chosen])
        n = chosen.sum()
        return torch.stack([n / eligible.sum(), (corrupted[chosen] == tok.mask_token_id).sum() / n,
                            (corrupted[chosen] == ids[chosen]).sum() / n]).float()

    a = torch.stack([stats(b["input_ids"], labels) for b, labels in ours]).mean(0)
    b = torch.stack([stats(corrupted, labels) for corrupted, labels in theirs]).mean(0)
    assert torch.allclose(a, torch.tensor([0.15, 0.8, 0.1 + 0.1 / len(tok)]), atol=0.015), a
    assert torch.allclose(a, b, atol=0.015), (a, b)


def test_batch_without_masked_positions_gives_zero_loss(encoder, text):
    task = tasks.MLMTask(encoder, text)
    batch = pair_batch(rows=2)
    out = task({**batch, "mlm_labels": torch.full_like(batch["input_ids"], -100)})
    out["loss"].backward()
    assert out["loss"].item() == 0.0 and out["mlm_acc"].item() == 0.0
    with pytest.raises(ValueError, match=r"mlm_probability: must be in \(0, 1\], got 2"):
        tasks.MLMOptions(mlm_probability=2)
    with pytest.raises(ValueError, match="mask_replace_prob: mask_replace_prob \\+ random_replace_prob must be <= 1"):
        tasks.MLMOptions(mask_replace_prob=0.95)


def test_mlm_head_needs_token_embeddings_of_the_encoder_width(text):
    """mlm is written against the capabilities: any encoder with sequence + token_embeddings() works."""

    class ItemEncoder(torch.nn.Module):  # a BERT4Rec-like stand-in: not a BERT at all
        def __init__(self, width):
            super().__init__()
            self.embed_dim = 16
            self.items = torch.nn.Embedding(VOCAB, width)
            self.proj = torch.nn.Linear(width, 16)

        def token_embeddings(self):
            return self.items

        def forward(self, batch):
            sequence = self.proj(self.items(batch["input_ids"]))
            return type("Out", (), {"sequence": sequence, "pooled": sequence.mean(1)})

    task = tasks.MLMTask(ItemEncoder(16), text)
    out = task(pair_batch(rows=4))
    out["loss"].backward()
    assert task.encoder.items.weight.grad is not None and torch.isfinite(out["loss"])
    with pytest.raises(ValueError, match=r"token_embeddings\(\) is \(97, 8\), the MLM decoder needs \(97, 16\)"):
        tasks.MLMTask(ItemEncoder(8), text)

"""MLM / NSP / MLM+NSP tasks against transformers' own BERT models with the same weights."""

import pytest
import torch
import torch.nn.functional as F
from transformers import BertForMaskedLM, BertForNextSentencePrediction, BertForPreTraining

from sslbench_text import masking, models, tasks

VOCAB, SPECIAL, MASK = 97, [0, 1, 2, 3, 4], 4


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


def test_mlm_loss_equals_bert_for_masked_lm(encoder):
    task = tasks.MLMTask(encoder, mask_token_id=MASK, special_ids=SPECIAL).eval()
    assert task.cls.predictions.decoder.weight is encoder.word_embeddings.weight  # tied as in BERT
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
    task = tasks.NSPTask(encoder).eval()
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


def test_mlm_nsp_losses_equal_bert_for_pretraining(encoder):
    task = tasks.MLMNSPTask(encoder, mask_token_id=MASK, special_ids=SPECIAL).eval()
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


def test_task_masks_itself_reproducibly_and_learns(encoder):
    batch = {k: v for k, v in pair_batch(rows=8).items() if k != "next_sentence_label"}

    def make(seed):
        torch.manual_seed(0)  # same head weights; masking draws only from the task's generator
        return tasks.MLMTask(
            encoder, mask_token_id=MASK, special_ids=SPECIAL, generator=torch.Generator().manual_seed(seed)
        ).eval()

    with torch.no_grad():
        assert make(5)(batch)["loss"].item() == make(5)(batch)["loss"].item()
        assert make(5)(batch)["loss"].item() != make(6)(batch)["loss"].item()
    task = tasks.MLMTask(encoder, mask_token_id=MASK, special_ids=SPECIAL).train()
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


def test_batch_without_masked_positions_gives_zero_loss(encoder):
    task = tasks.MLMTask(encoder, mask_token_id=MASK, special_ids=SPECIAL)
    batch = pair_batch(rows=2)
    out = task({**batch, "mlm_labels": torch.full_like(batch["input_ids"], -100)})
    out["loss"].backward()
    assert out["loss"].item() == 0.0 and out["mlm_acc"].item() == 0.0
    with pytest.raises(ValueError, match="mlm_probability=2"):
        tasks.MLMTask(encoder, mask_token_id=MASK, special_ids=SPECIAL, mlm_probability=2)

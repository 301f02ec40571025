"""WordPiece training, BERT special tokens, and the hash-keyed on-disk cache."""

import pytest

from sslbench_text import tokenizer as tk

TEXTS = [
    "The cat sat on the mat.",
    "A dog chased the cat around the garden.",
    "Cats and dogs are animals; the mat is not.",
] * 4


def test_special_tokens_and_bert_template():
    tok = tk.train_wordpiece(TEXTS, tk.TokenizerSettings(vocab_size=120, min_frequency=1))
    assert tok.convert_ids_to_tokens([0, 1, 2, 3, 4]) == list(tk.SPECIAL_TOKENS)
    assert (tok.pad_token_id, tok.mask_token_id) == (0, 4)
    assert tk.special_token_ids(tok) == [0, 1, 2, 3, 4]
    pair = tok("The cat", "the mat")
    assert pair["input_ids"][0] == tok.cls_token_id and pair["input_ids"][-1] == tok.sep_token_id
    assert pair["input_ids"].count(tok.sep_token_id) == 2
    assert pair["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    # lowercased, split at punctuation, decoded back to the same words
    assert tok("THE CAT!", add_special_tokens=False)["input_ids"] == tok("the cat !", add_special_tokens=False)["input_ids"]
    assert tok.decode(tok("Cats and dogs.", add_special_tokens=False)["input_ids"]) == "cats and dogs."
    assert tok("zebra", add_special_tokens=False)["input_ids"] == [tok.unk_token_id]  # 'z' never seen


def test_vocab_size_respected_and_validated():
    tok = tk.train_wordpiece(TEXTS, tk.TokenizerSettings(vocab_size=60, min_frequency=1))
    assert len(tok) <= 60
    with pytest.raises(ValueError, match="vocab_size=3 is below the 5 special tokens"):
        tk.TokenizerSettings(vocab_size=3)
    with pytest.raises(ValueError, match="empty corpus"):
        tk.train_wordpiece(["", "  "])


def test_cache_trains_once_and_keys_on_corpus_and_settings(tmp_path, monkeypatch):
    settings = tk.TokenizerSettings(vocab_size=80, min_frequency=1)
    first = tk.load_or_train_tokenizer(TEXTS, tmp_path, settings)
    assert len(list(tmp_path.glob("wordpiece-*"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("tokenizer was retrained although it is cached")

    monkeypatch.setattr(tk, "train_wordpiece", no_training)
    again = tk.load_or_train_tokenizer(TEXTS, tmp_path, settings)
    assert again.get_vocab() == first.get_vocab()
    assert again("the cat sat")["input_ids"] == first("the cat sat")["input_ids"]
    assert again.mask_token_id == 4 and again.model_max_length == settings.model_max_length

    key = tk.tokenizer_cache_key(TEXTS, settings)
    assert tk.tokenizer_cache_key(TEXTS[:-1], settings) != key
    assert tk.tokenizer_cache_key(TEXTS, tk.TokenizerSettings(vocab_size=81, min_frequency=1)) != key
    # text boundaries matter: same characters, different documents
    assert tk.corpus_fingerprint(["ab", "c"]) != tk.corpus_fingerprint(["a", "bc"])
    assert again("a", "b")["token_type_ids"] == [0, 0, 0, 1, 1]

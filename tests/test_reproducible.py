"""Same config, seed and data → identical rows after the data cache and artifacts are rebuilt,
and every cached artifact (WordPiece vocabulary, k-means centroids, subsets) rebuilt identically
in a fresh process."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

TRAIN_VOCAB = textwrap.dedent("""
    import random, sys
    from sslbench_text.tokenizer import TokenizerSettings, train_wordpiece
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 9))) for _ in range(2000)]
    texts = [" ".join(rng.choice(words) for _ in range(60)) for _ in range(400)]
    train_wordpiece(texts, TokenizerSettings(vocab_size=1500)).save_pretrained(sys.argv[1])
""")


def python(*args: str, env: dict | None = None) -> None:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_wordpiece_trainings_in_two_processes_give_identical_files(tmp_path):
    """tokenizers' own trainer gave another vocabulary in each process (hash-map order; #1794)."""
    for name in ("a", "b"):
        python("-c", TRAIN_VOCAB, str(tmp_path / name))
    for file in ("tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_the_learned_vocabulary_is_a_sane_wordpiece():
    from sslbench_text.tokenizer import SPECIAL_TOKENS, TokenizerSettings, train_wordpiece

    texts = ["the cat sat on the mat with the other cat"] * 20 + ["a dog saw the cat and the mat"] * 10
    tok = train_wordpiece(texts, TokenizerSettings(vocab_size=60, min_frequency=2))
    assert [tok.convert_ids_to_tokens(i) for i in range(5)] == list(SPECIAL_TOKENS)
    assert len(tok) <= 60 and tok.tokenize("the cat") == ["the", "cat"]  # frequent words: one piece
    assert tok.decode(tok("the mat")["input_ids"], skip_special_tokens=True) == "the mat"


def test_the_merge_tie_break_is_by_the_pairs_strings():
    from sslbench_text.wordpiece import learn_vocabulary

    vocab = learn_vocabulary({"ab": 3, "cd": 3}, vocab_size=100, special_tokens=["[UNK]"], min_frequency=1)
    merges = vocab[vocab.index("##d") + 1:]
    assert merges == ["ab", "cd"]  # equal counts: ("a", "##b") before ("c", "##d")
    assert learn_vocabulary({"cd": 3, "ab": 3}, 100, ["[UNK]"], min_frequency=1) == vocab  # input order ignored


CONFIG = """
[run]
seeds = [0, 1]
device = "cpu"
steps = 2
batch_size = 8

[grid]
datasets = ["textfiles"]
tasks = ["mlm"]
models = ["bert-tiny"]
evaluators = ["knn", "linear-probe"]

[datasets.textfiles]
path = "{corpus}"
labels_from_subfolders = true
valid_docs = 0
max_length = 32
vocab_size = 200
"""


@pytest.mark.slow
def test_random_init_rows_are_identical_after_the_cache_is_rebuilt(tmp_path):
    corpus = tmp_path / "corpus"
    topics = {"space": "orbit launch rocket moon nasa shuttle", "cars": "engine wheel brake fuel drive road"}
    for topic, vocabulary in topics.items():
        (corpus / topic).mkdir(parents=True)
        for i in range(12):
            words = vocabulary.split()
            text = " ".join(words[(i + j) % len(words)] for j in range(40))
            (corpus / topic / f"{i}.txt").write_text(f"post {i} about {topic}: {text}\n")
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG.format(corpus=corpus))
    values = []
    for attempt in ("first", "second"):
        python("-m", "sslbench", "run", str(config), "--out", str(tmp_path / f"out-{attempt}"),
               env={"SSLBENCH_DATA": str(tmp_path / f"cache-{attempt}")})  # a fresh cache each time
        rows = [json.loads(line) for line in (tmp_path / f"out-{attempt}" / "rows.jsonl").read_text().splitlines()]
        values.append(sorted((r["task"], r["evaluator"], r["seed"], r["value"]) for r in rows
                             if r["task"] in ("random-init", "mlm")))
    assert values[0] == values[1] and len(values[0]) >= 8


def test_kmeans_centroids_are_identical_in_a_fresh_process(tmp_path):
    script = textwrap.dedent("""
        import sys, torch
        from sslbench_audio.kmeans import fit_kmeans_cached
        frames = torch.randn(3000, 13, generator=torch.Generator().manual_seed(0))
        torch.save(fit_kmeans_cached(frames, 20, seed=0, cache_dir=sys.argv[1]), sys.argv[2])
    """)
    for name in ("a", "b"):
        python("-c", script, str(tmp_path / f"cache-{name}"), str(tmp_path / f"{name}.pt"))
    a, b = (torch.load(tmp_path / f"{name}.pt") for name in ("a", "b"))
    assert torch.equal(a, b)


def test_dataset_subsets_are_identical_in_a_fresh_process(tmp_path):
    """Class-balanced subsets and validation splits come from fixed generators, not process state."""
    script = textwrap.dedent("""
        import sys, torch
        from sslbench.splits import carve_valid, stratified_subset
        labels = torch.arange(500) % 7
        valid, rest = carve_valid(labels, 35)
        torch.save({"subset": stratified_subset(labels, 70, seed=3), "valid": valid, "rest": rest}, sys.argv[1])
    """)
    for name in ("a", "b"):
        python("-c", script, str(tmp_path / f"{name}.pt"), env={"PYTHONHASHSEED": "1" if name == "a" else "2"})
    a, b = (torch.load(tmp_path / f"{name}.pt") for name in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

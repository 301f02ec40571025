"""Text-plugin test settings and a toy labelled corpus."""

import csv
import random
from pathlib import Path

import pytest

from sslbench import DatasetContext
from sslbench.options import build_options
from sslbench_text import datasets

TOPICS = {
    "pets": "cat dog fur paw tail bark purr kitten puppy leash",
    "space": "star orbit planet rocket moon comet galaxy launch probe nasa",
    "food": "bread cheese soup salt bake oven pasta sauce spoon taste",
}


@pytest.fixture
def topics() -> dict[str, str]:
    """Topic name → its words, as in ``toy_corpus``."""
    return TOPICS


def write_corpus(folder: Path, docs: int = 30, seed: int = 0) -> Path:
    """``folder/corpus.csv`` with columns body, topic: documents of 10–80 words of one topic each."""
    rng = random.Random(seed)
    path = folder / "corpus.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["body", "topic"])
        for i in range(docs):
            topic = list(TOPICS)[i % 3]
            writer.writerow([" ".join(rng.choices(TOPICS[topic].split(), k=rng.randint(10, 80))), topic])
    return path


@pytest.fixture
def toy_corpus(tmp_path) -> Path:
    """A 30-document, 3-topic CSV corpus."""
    return write_corpus(tmp_path)


@pytest.fixture
def load(tmp_path, toy_corpus):
    """``load(**options)``: the toy corpus as a ``textfiles`` dataset (small vocabulary, max_length 16)."""

    def load(**options):
        defaults = {"path": str(toy_corpus), "text_column": "body", "label_column": "topic",
                    "vocab_size": 60, "min_frequency": 1, "max_length": 16}
        opts = build_options(datasets.TextFilesOptions, {**defaults, **options})
        return datasets.load_textfiles(DatasetContext(data_root=tmp_path / "data", progress=False), opts)

    return load

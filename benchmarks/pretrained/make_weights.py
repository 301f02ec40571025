"""Write stand-ins for outside weights, offline, in the formats the libraries save (for docs/models.md).

    python benchmarks/pretrained/make_weights.py [FOLDER]     # default: runs/weights

writes FOLDER/resnet18/ (timm's Hub layout: model.safetensors with the ImageNet-shaped classifier,
config.json with pretrained_cfg), FOLDER/bert-tiny/ (transformers' save_pretrained folder of a
bert-tiny sized BertModel with its tokenizer) and FOLDER/corpus.csv (a three-topic toy corpus the
tokenizer was trained on). The weights are random (seeded): they stand where downloaded ones
(``timm:a1_in1k``, ``hf-hub:org/name``, a hub id) would, on a machine without the Hub.
"""
from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

TOPICS = {"pets": "cat dog fur paw tail bark purr kitten puppy leash",
          "space": "star orbit planet rocket moon comet galaxy launch probe",
          "food": "bread cheese soup salt bake oven pasta sauce spoon taste"}


def write_resnet18(folder: Path) -> None:
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False, zero_init_last=False)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(folder / "model.safetensors"))
    config = {"architecture": "resnet18", "num_classes": 1000, "pretrained_cfg": {
        "input_size": [3, 32, 32], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
        "classifier": "fc", "first_conv": "conv1", "license": "apache-2.0"}}
    (folder / "config.json").write_text(json.dumps(config, indent=1))


def write_corpus(path: Path, docs: int = 90) -> list[str]:
    rng = random.Random(0)
    rows = []
    for i in range(docs):
        topic = list(TOPICS)[i % 3]
        rows.append([" ".join(rng.choices(TOPICS[topic].split(), k=rng.randint(20, 60))), topic])
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["body", "topic"])
        writer.writerows(rows)
    return [text for text, _ in rows]


def write_bert(folder: Path, texts: list[str]) -> None:
    import torch
    from sslbench_text.tokenizer import TokenizerSettings, train_wordpiece
    from transformers import BertConfig, BertModel

    tokenizer = train_wordpiece(texts, TokenizerSettings(vocab_size=200, min_frequency=1, model_max_length=64))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=512, max_position_embeddings=64)
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))


def main(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    write_resnet18(root / "resnet18")
    write_bert(root / "bert-tiny", write_corpus(root / "corpus.csv"))
    print(f"wrote {root / 'resnet18'}, {root / 'bert-tiny'} and {root / 'corpus.csv'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/weights"))

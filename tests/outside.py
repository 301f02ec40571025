"""Outside weights in their real formats, written by the tests (nothing is downloaded): a timm
ResNet-18 as ``model.safetensors`` + timm's ``config.json``, and a tiny BERT ``save_pretrained``
folder with its tokenizer; a toy text corpus and configs that run them."""
from __future__ import annotations

import csv
import json
import random
import textwrap
from pathlib import Path

TOPICS = {"pets": "cat dog fur paw tail bark purr kitten", "space": "star orbit planet rocket moon comet",
          "food": "bread cheese soup salt bake oven pasta sauce"}


def timm_folder(folder: Path, input_size: int = 8, channels: int = 3, arch: str = "resnet18") -> Path:
    """A timm Hub-layout folder: a random (seeded) ``arch`` with its classifier, and its pretrained config."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, zero_init_last=False, in_chans=channels)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(folder / "model.safetensors"))
    config = {"architecture": arch, "num_classes": 1000, "pretrained_cfg": {
        "input_size": [channels, input_size, input_size], "mean": [0.4] * channels, "std": [0.3] * channels,
        "classifier": "fc", "first_conv": "conv1", "license": "apache-2.0"}}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def corpus(folder: Path, docs: int = 30) -> Path:
    """``folder/corpus.csv``: documents of one of three topics each (columns body, topic)."""
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["body", "topic"])
        for i in range(docs):
            topic = list(TOPICS)[i % 3]
            writer.writerow([" ".join(rng.choices(TOPICS[topic].split(), k=rng.randint(12, 40))), topic])
    return path


def bert_folder(folder: Path, texts: list[str], norm: str = "post") -> Path:
    """A ``save_pretrained`` folder of a tiny random BERT (bert-tiny's size, pooler included, as
    ``BertModel`` saves it) and of a WordPiece tokenizer trained on ``texts``."""
    import torch
    from sslbench_text.models import bert_config
    from sslbench_text.tokenizer import TokenizerSettings, train_wordpiece

    tokenizer = train_wordpiece(texts, TokenizerSettings(vocab_size=80, min_frequency=1, model_max_length=16))
    config = bert_config("bert-tiny", len(tokenizer), max_positions=32, norm=norm)
    torch.manual_seed(0)
    from transformers import AutoModel

    AutoModel.from_config(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def texts_of(path: Path) -> list[str]:
    with path.open() as f:
        return [row["body"] for row in csv.DictReader(f)]


IMAGE_CONFIG = """
[run]
seeds = [0]
device = "cpu"
steps = 1
batch_size = 16
[grid]
datasets = ["digits"]
tasks = {tasks}
models = ["resnet18"]
evaluators = ["knn"]
[models.resnet18]
weights = "{weights}"
"""

TEXT_CONFIG = """
[run]
seeds = [0]
device = "cpu"
steps = 1
batch_size = 8
[grid]
datasets = ["textfiles"]
tasks = {tasks}
models = ["bert-tiny"]
evaluators = ["knn"]
[datasets.textfiles]
path = "{corpus}"
text_column = "body"
label_column = "topic"
vocab_size = 80
min_frequency = 1
max_length = 16
valid_docs = 0
{tokenizer}
[models.bert-tiny]
weights = "{weights}"
"""


def write_config(path: Path, template: str, **values: str) -> Path:
    path.write_text(textwrap.dedent(template.format(**values)))
    return path

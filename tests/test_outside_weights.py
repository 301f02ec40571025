"""Encoders with weights from outside (the ``weights`` option) and the as-loaded ``pretrained`` cell:
strict, pickle-free loading checked against the libraries' own models, one line per mistake, and
rows ranked beside the SSL and random-init rows (offline, tiny)."""
from __future__ import annotations

import json

import pytest
import torch
from outside import IMAGE_CONFIG, TEXT_CONFIG, bert_folder, corpus, texts_of, timm_folder, write_config

from sslbench import ModelContext
from sslbench.cli import main
from sslbench.errors import WeightsError
from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid

GREY = {"channels": 1, "image_size": 8, "mean": [0.3], "std": [0.2]}


def resnet18(weights: str, info=GREY, **options):
    from sslbench_image.models import build_resnet18
    from sslbench_image.options import ResNet18Options

    return build_resnet18(ModelContext(dataset="digits", modality="image", info=info), ResNet18Options(weights=weights, **options))


def test_timm_weights_give_timms_features_on_the_weights_input(tmp_path):
    """Peer check: grey 8 px images repeated to 3 channels, resized to the weights' 16 px and
    normalised with the weights' statistics give what timm's own model gives."""
    import timm
    from safetensors.torch import load_file

    folder = timm_folder(tmp_path / "r18", input_size=16)
    encoder = resnet18(str(folder)).eval()
    reference = timm.create_model("resnet18", pretrained=False, num_classes=0, global_pool="").eval()
    state = {k: v for k, v in load_file(str(folder / "model.safetensors")).items() if not k.startswith("fc.")}
    reference.load_state_dict(state)
    images = torch.rand(3, 1, 8, 8)
    big = torch.nn.functional.interpolate(images.expand(-1, 3, -1, -1), size=(16, 16), mode="bilinear",
                                          align_corners=False, antialias=True)
    with torch.no_grad():
        expected = reference.forward_features((big - 0.4) / 0.3).mean(dim=(2, 3))
        pooled = encoder({"image": images}).pooled
    torch.testing.assert_close(pooled, expected)
    digest = __import__("hashlib").sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert encoder.weights_sha256 == digest and encoder.weights_license == "apache-2.0"


def test_weight_mistakes_each_give_one_line(tmp_path):
    from safetensors.torch import save_file

    r34 = timm_folder(tmp_path / "r34", arch="resnet34")
    state = {k: v for k, v in __import__("safetensors.torch", fromlist=["x"]).load_file(
        str(timm_folder(tmp_path / "r18") / "model.safetensors")).items()}
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    save_file(state, str(tmp_path / "shape.safetensors"))
    torch.save({"model": object()}, tmp_path / "pickled.pt")
    (tmp_path / "empty").mkdir()
    cases = {
        str(tmp_path / "nowhere"): "is no file or folder here",
        str(r34): "the weights are for 'resnet34', the model is 'resnet18'",
        str(r34 / "model.safetensors"): "unexpected keys (layer1.2.",
        str(tmp_path / "shape.safetensors"): "wrong shapes (layer1.0.conv1.weight is (64, 64, 1, 1), the model's (64, 64, 3, 3))",
        str(tmp_path / "pickled.pt"): "cannot read",
        str(tmp_path / "empty"): "holds no model.safetensors",
    }
    for source, expected in cases.items():
        with pytest.raises(WeightsError) as caught:
            resnet18(source)
        assert expected in str(caught.value) and "\n" not in str(caught.value), str(caught.value)
        assert str(caught.value).startswith("[models.resnet18] weights: ")
    with pytest.raises(WeightsError, match="small_stem = 'on' but the weights' conv1.weight is 7×7"):
        resnet18(str(timm_folder(tmp_path / "big")), small_stem="on")
    with pytest.raises(WeightsError, match="the weights take 3-channel images, dataset 'digits' has 2"):
        resnet18(str(tmp_path / "big"), info={**GREY, "channels": 2, "mean": [0, 0], "std": [1, 1]})


def test_bert_weights_from_a_save_pretrained_folder(tmp_path):
    """The folder's BertModel gives the same hidden states as sslbench's encoder; the dataset must
    tokenise with the folder's tokenizer, and the size must be the model's."""
    from sslbench_text.models import bert_builder
    from sslbench_text.options import BertOptions
    from transformers import AutoModel

    path = corpus(tmp_path)
    folder = bert_folder(tmp_path / "bert", texts_of(path))
    from sslbench_text.tokenizer import vocab_fingerprint
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    info = {"vocab_size": len(tokenizer), "max_length": 16, "pad_token_id": 0, "tokenizer_vocab_sha256": vocab_fingerprint(tokenizer)}
    ctx = ModelContext(dataset="textfiles", modality="text", info=info)
    encoder = bert_builder("bert-tiny")(ctx, BertOptions(weights=str(folder))).eval()
    batch = tokenizer(["cat dog fur", "star orbit planet moon"], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = AutoModel.from_pretrained(str(folder)).eval()(**batch).last_hidden_state
        out = encoder(dict(batch))
    torch.testing.assert_close(out.sequence, expected)
    with pytest.raises(WeightsError, match=r"tokenised with another; set \[datasets.textfiles\] tokenizer = "):
        bert_builder("bert-tiny")(ModelContext("textfiles", "text", {**info, "tokenizer_vocab_sha256": "x"}),
                                  BertOptions(weights=str(folder)))
    with pytest.raises(WeightsError, match="the weights are 128 wide and 2 deep, bert-mini is 256 × 4; use model bert-tiny"):
        bert_builder("bert-mini")(ctx, BertOptions(weights=str(folder)))
    with pytest.raises(WeightsError, match="holds a 'bert' model; norm = 'pre' takes 'roberta-prelayernorm'"):
        bert_builder("bert-tiny")(ctx, BertOptions(weights=str(folder), norm="pre"))
    with pytest.raises(WeightsError, match="is no file or folder here, and no hub id"):
        bert_builder("bert-tiny")(ctx, BertOptions(weights=str(tmp_path / "nowhere")))


def test_a_model_without_weights_skips_its_as_loaded_cell_with_the_reason(tmp_path):
    from sslbench.cli.common import registry_from_args

    config = write_config(tmp_path / "c.toml", IMAGE_CONFIG, tasks='["pretrained"]', weights="")
    config.write_text(config.read_text().replace('models = ["resnet18"]', 'models = ["resnet18", "cnn-small"]'))
    registry = registry_from_args(__import__("argparse").Namespace(plugin_args=[], plugin_args_before=[]))
    plan = plan_grid(load_config(config, registry), registry)
    assert [c.key for c in plan.cells] == []
    reasons = {s.model: s.reason for s in plan.skipped}
    assert "has no outside weights; set [models.resnet18] weights = " in reasons["resnet18"]
    assert reasons["cnn-small"].startswith("model 'cnn-small' has no outside weights")


def _board(capsys, out):
    assert main(["leaderboard", str(out), "--format", "json"]) == 0
    return {r["task"]: r for r in json.loads(capsys.readouterr().out)}


def test_timm_and_bert_from_local_weights_rank_beside_ssl_and_random_init(tmp_path, capsys, monkeypatch):
    """The issue's done-when: one leaderboard, the as-loaded rows ranked as methods beside the SSL
    rows, random-init (without the weights) and the no-encoder reference beside them."""
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "data"))
    folder = timm_folder(tmp_path / "r18")
    config = write_config(tmp_path / "image.toml", IMAGE_CONFIG, tasks='["simclr", "pretrained"]', weights=folder)
    assert main(["run", str(config), "--out", str(tmp_path / "image"), "-q"]) == 0
    path = corpus(tmp_path / "corpus")
    bert = bert_folder(tmp_path / "bert", texts_of(path))
    config = write_config(tmp_path / "text.toml", TEXT_CONFIG, tasks='["mlm", "pretrained"]', corpus=path,
                          weights=bert, tokenizer=f'tokenizer = "{bert}"')
    assert main(["run", str(config), "--out", str(tmp_path / "text"), "-q"]) == 0
    capsys.readouterr()
    for out, model, ssl_task in ((tmp_path / "image", "resnet18", "simclr"), (tmp_path / "text", "bert-tiny", "mlm")):
        board = _board(capsys, out)
        assert set(board) == {"random-init", "no-encoder", "pretrained", ssl_task}
        loaded, ssl = board["pretrained"], board[ssl_task]
        assert loaded["kind"] == "method" and loaded["rank"] >= 1 and ssl["rank"] >= 1
        assert loaded["ranking"] == ssl["ranking"] == board["random-init"]["ranking"]
        assert loaded["baseline"] == board["random-init"]["mean"]  # its anchor: the architecture without the weights
        assert loaded["steps"] is None and loaded["flops"] is None
        rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
        mine = [r for r in rows if r["task"] == "pretrained"]
        init = [r for r in rows if r["task"] == "random-init"]
        assert all(r["budget"]["pretraining"] == "external" and r["cost"]["steps"] is None for r in mine)
        sha = mine[0]["provenance"]["weights"]["sha256"]
        assert all(r["identity"]["settings"]["model"]["weights_sha256"] == sha for r in mine)
        assert all("weights" not in r["identity"]["settings"]["model"] and r["model"] == model for r in init)


def test_weights_that_do_not_fit_stop_the_run_with_one_line(tmp_path, capsys):
    folder = timm_folder(tmp_path / "r18")
    config = write_config(tmp_path / "c.toml", IMAGE_CONFIG, tasks='["pretrained"]', weights=folder / "model.safetensors")
    config.write_text(config.read_text().replace("resnet18", "cnn-small"))
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sslbench: error: [models.cnn-small] weights: the weights do not fit this model: missing 26 keys")
    assert err.count("\n") == 1


def test_an_as_loaded_entry_stands_in_every_budgets_ranking_and_finds_its_random_init():
    """Pretrained elsewhere: no budget of ours, so it is ranked beside the methods of each budget,
    and its anchor is the architecture's random-init row (settings without the weights)."""
    from sslbench.results import make_row
    from sslbench.results.leaderboard import ranking_members, summarize

    def row(task, seed, value, budget, weights=None):
        ident = dict(suite="s", dataset="d", task=task, model="m", evaluator="knn", label_set="y", metric="top1", seed=seed)
        model = {"weights": "w", "weights_sha256": "ab"} if weights else {}
        return make_row(ident, value, budget=budget, format=2,
                        identity={"protocol": {}, "settings": {"model": model}})

    external = {"pretraining": "external", "unit": None, "amount": None, "steps": None}
    rows = [row(t, s, v, b, w) for s in (0, 1, 2) for t, v, b, w in [
        ("random-init", 0.5 + s / 100, {"unit": "steps", "amount": 0, "steps": 0}, None),
        ("simclr", 0.7 + s / 100, {"unit": "steps", "amount": 10, "steps": 10}, None),
        ("byol", 0.8 + s / 100, {"unit": "steps", "amount": 20, "steps": 20}, None),
        ("pretrained", 0.9 + s / 1000, external, "w")]]
    table = summarize(rows)
    loaded = table[table["task"] == "pretrained"].iloc[0]
    assert loaded["kind"] == "method" and loaded["rank"] == 1
    assert loaded["baseline"] == pytest.approx(0.51) and loaded["vs_baseline"] == "better"
    rankings = ranking_members(table)
    assert len(rankings) == 2 and all("pretrained" in set(members["task"]) for _, members in rankings)

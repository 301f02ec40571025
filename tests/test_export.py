"""``sslbench export``: the folder loads with the library's own loader (the card's code, run as
written) and gives sslbench's embeddings; loaded back through ``weights = DIR`` it gives the
same leaderboard values; each mistake is one line (exit 2)."""
from __future__ import annotations

import json

import pytest
import torch
import yaml
from outside import IMAGE_CONFIG, TEXT_CONFIG, corpus, timm_folder, write_config

from sslbench import ModelContext
from sslbench.cli import main


def _rows(out):
    return [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]


def _value(out, task):
    (row,) = [r for r in _rows(out) if r["task"] == task and r["seed"] == 0]
    return row["value"]


def _card(folder):
    text = (folder / "README.md").read_text()
    _, front, body = text.split("---\n", 2)
    code = body.split("```python\n", 1)[1].split("```", 1)[0]
    return yaml.safe_load(front), body, code


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A resnet18 (small-image stem, random start) pretrained one SimCLR step on digits."""
    root = tmp_path_factory.mktemp("image")
    config = write_config(root / "cfg.toml", IMAGE_CONFIG, tasks='["simclr"]', weights="")
    assert main(["run", str(config), "--out", str(root / "run"), "-q"]) == 0
    return root


def test_image_export_loads_with_timm_and_back_through_weights(image_run, capsys):
    from sslbench_image.models import build_resnet18
    from sslbench_image.options import ResNet18Options

    out = image_run / "export"
    assert main(["export", str(image_run / "run"), "-o", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "config.json", "sslbench.json", "README.md"}
    front, body, code = _card(out)
    assert front["library_name"] == "timm" and front["datasets"] == ["digits"]
    (metric,) = front["model-index"][0]["results"][0]["metrics"]
    assert metric["value"] == pytest.approx(_value(image_run / "run", "simclr"), abs=1e-6)
    assert "model.conv1 = torch.nn.Conv2d(1, model.conv1.out_channels, 3, 1, 1, bias=False)" in code
    assert "| knn " in body and "BSD-3-Clause" in body
    info = json.loads((out / "sslbench.json").read_text())["info"]
    encoder = build_resnet18(ModelContext("digits", "image", info), ResNet18Options(weights=str(out))).eval()
    images = torch.rand(4, 1, 8, 8)
    scope = {"images": images}
    exec(code, scope)  # the card's code, as a user runs it
    with torch.no_grad():
        torch.testing.assert_close(scope["embedding"], encoder({"image": images}).pooled)
    capsys.readouterr()
    config = write_config(image_run / "back.toml", IMAGE_CONFIG, tasks='["pretrained"]', weights=out)
    assert main(["run", str(config), "--out", str(image_run / "back"), "-q"]) == 0
    assert _value(image_run / "back", "pretrained") == _value(image_run / "run", "simclr")


def test_timm_original_stem_export_loads_with_pretrained_true(tmp_path):
    """timm's own loader (pretrained=True, pretrained_cfg_overlay=dict(file=...)) on the folder."""
    from types import SimpleNamespace

    from sslbench_image.export import export_timm
    from sslbench_image.models import build_resnet18
    from sslbench_image.options import ResNet18Options

    info = {"channels": 1, "image_size": 8, "mean": [0.3], "std": [0.2]}
    options = ResNet18Options(weights=str(timm_folder(tmp_path / "r18", input_size=16)))
    encoder = build_resnet18(ModelContext("digits", "image", info), options).eval()
    out = tmp_path / "out"
    out.mkdir()
    facts = export_timm(encoder, options, SimpleNamespace(info=info), out)
    assert facts["weights_license"] == "apache-2.0"
    code = facts["load"].replace("DIR", str(out))
    assert "pretrained=True, pretrained_cfg_overlay=dict(file=" in code
    images = torch.rand(2, 3, 16, 16)  # already the weights' size, as the card asks
    scope = {"images": images}
    exec(code, scope)
    with torch.no_grad():
        torch.testing.assert_close(scope["embedding"], encoder({"image": images}).pooled)


def test_bert_export_loads_with_automodel_and_back_through_weights(tmp_path, capsys, monkeypatch):
    from transformers import AutoTokenizer

    from sslbench.cli.common import registry_from_args
    from sslbench.cli.export import _checkpoint, _manifest, rebuild

    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "data"))
    path = corpus(tmp_path / "corpus")
    config = write_config(tmp_path / "text.toml", TEXT_CONFIG, tasks='["mlm"]', corpus=path, weights="", tokenizer="")
    assert main(["run", str(config), "--out", str(tmp_path / "run"), "-q"]) == 0
    out = tmp_path / "export"
    assert main(["export", str(tmp_path / "run"), "--cell", "textfiles/mlm/bert-tiny", "--seed", "0", "-o", str(out)]) == 0
    front, _, code = _card(out)
    assert front["library_name"] == "transformers"
    registry = registry_from_args(__import__("argparse").Namespace(plugin_args=[], plugin_args_before=[]))
    _, payload = _checkpoint(tmp_path / "run", ("textfiles", "mlm", "bert-tiny"), 0)
    rebuilt = rebuild(registry, _manifest(tmp_path / "run")["config"], ("textfiles", "mlm", "bert-tiny"), payload)
    texts = ["cat dog fur paw", "star orbit planet rocket moon comet"]
    theirs = rebuilt["dataset"].extras["tokenizer"](texts)["input_ids"]
    assert AutoTokenizer.from_pretrained(str(out))(texts)["input_ids"] == theirs
    scope = {"texts": texts}
    exec(code, scope)
    with torch.no_grad():
        expected = rebuilt["encoder"]({k: v for k, v in scope["batch"].items()}).pooled
    torch.testing.assert_close(scope["embedding"], expected)
    capsys.readouterr()
    config = write_config(tmp_path / "back.toml", TEXT_CONFIG, tasks='["pretrained"]', corpus=path, weights=out,
                          tokenizer="")
    assert main(["run", str(config), "--out", str(tmp_path / "back"), "-q"]) == 0
    assert _value(tmp_path / "back", "pretrained") == _value(tmp_path / "run", "mlm")


def test_export_mistakes_each_give_one_line(image_run, tmp_path, capsys):
    run = str(image_run / "run")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    cases = {
        ("--cell", "digits/random-init/resnet18"): "no trained cell (nothing pretrained here to export)",
        ("--cell", "digits/mae/resnet18"): "not a cell of this run; trained cells: digits/simclr/resnet18",
        ("--seed", "7"): "--seed 7: no checkpoint of digits/simclr/resnet18; seeds with one: [0]",
        ("-o", str(tmp_path / "full")): "exists and is not an empty folder",
    }
    for extra, expected in cases.items():
        argv = ["export", run, *extra] + ([] if "-o" in extra else ["-o", str(tmp_path / "new")])
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, err
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "new")]) == 2
    assert "no result folder with a readable manifest.json" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_a_model_without_an_export_hook_exports_its_state_dict_and_loads_back(tmp_path, capsys):
    config = write_config(tmp_path / "cfg.toml", IMAGE_CONFIG, tasks='["simclr"]', weights="")
    config.write_text(config.read_text().replace("resnet18", "cnn-small"))
    assert main(["run", str(config), "--out", str(tmp_path / "run"), "-q"]) == 0
    out = tmp_path / "export"
    assert main(["export", str(tmp_path / "run"), "-o", str(out)]) == 0
    front, body, _ = _card(out)
    assert front["library_name"] == "sslbench" and '"DIR' not in body and f'weights = "{out}"' in body
    meta = json.loads((out / "sslbench.json").read_text())
    assert meta["info"]["image_size"] == 8 and meta["model_options"] == {"width": 32}
    capsys.readouterr()
    config.write_text(config.read_text().replace('["simclr"]', '["pretrained"]').replace('weights = ""', f'weights = "{out}"'))
    assert main(["run", str(config), "--out", str(tmp_path / "back"), "-q"]) == 0
    assert _value(tmp_path / "back", "pretrained") == _value(tmp_path / "run", "simclr")

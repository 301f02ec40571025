"""Non-finite floats, out-of-range integers and path-like suite names: one line, exit 2, nothing written."""
from __future__ import annotations

import pytest

from sslbench.cli import main
from test_reliability import cli, write_config

BAD = {
    "lr nan": ("lr = 0.003", "lr = nan", "[run] lr: must be a finite number, got nan"),
    "weight_decay inf": ("lr = 0.003", "lr = 0.003\nweight_decay = inf", "[run] weight_decay: must be a finite number"),
    "flops 1e309": ("steps = 20", "flops = 1e309", "[run] flops: must be a finite number, got inf"),
    "seconds nan": ("steps = 20", "seconds = nan", "[run] seconds: must be a finite number"),
    "grad_clip nan": ("lr = 0.003", "lr = 0.003\ngrad_clip = nan", "[run] grad_clip: must be a finite number"),
    "option inf": ("projection_dim = 16", "projection_dim = 16\ntemperature = inf",
                   "[tasks.simclr] temperature: must be a finite number"),
    "seed 2**32": ("seeds = [0, 1]", "seeds = [0, 4294967296]", "[run] seeds: must be integers in [0, 2**32)"),
    "steps 2**64": ("steps = 20", "steps = 18446744073709551616", "[run] steps: must be an integer within"),
    "steps 1e10": ("steps = 20", "steps = 10000000000", "[run] steps: must be at most 1_000_000_000"),
    "absurd width": ("hidden_dim = 32", "hidden_dim = 100000000", "[tasks.simclr] hidden_dim: must be an integer within"),
    "suite up": ("[run]", '[run]\nsuite = "../../x"', "[run] suite: must be a plain name"),
    "suite absolute": ("[run]", '[run]\nsuite = "/tmp/x"', "[run] suite: must be a plain name"),
    "nested array": ("[grid]", "deep = " + "[" * 20000 + "]" * 20000 + "\n[grid]", "nested too deeply"),
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_value_is_one_line_and_exit_2_before_anything_is_written(tmp_path, capsys, name):
    old, new, message = BAD[name]
    config = write_config(tmp_path, steps=20)
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))
    out = tmp_path / "out"
    code = main(["-p", "fake_plugin", "run", str(config), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("sslbench: error: ") and message in err[0], err
    assert not out.exists()


def test_a_path_like_suite_name_from_the_file_name_is_refused(tmp_path, capsys):
    config = write_config(tmp_path, steps=20, name="..toml")
    assert main(["-p", "fake_plugin", "run", str(config)]) == 2
    assert "set [run] suite" in capsys.readouterr().err


def test_in_a_subprocess_too(tmp_path):
    config = write_config(tmp_path, steps=20)
    config.write_text(config.read_text().replace("lr = 0.003", "lr = nan"))
    done = cli("run", str(config), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()

"""Property: whatever a config file holds, loading it gives a valid Config or one clean ConfigError."""
from __future__ import annotations

import tempfile
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sslbench.errors import ConfigError
from sslbench.plan.config import Config, load_config
from sslbench.plugins import make_plugin_manager
from sslbench.registry import Registry

REGISTRY = Registry(make_plugin_manager(autoload=False, modules=["sslbench_image.plugin", "sslbench_eval.plugin"]))

VALID = {
    "run": {"seeds": [0, 1], "device": "cpu", "steps": 5, "batch_size": 16, "lr": 0.001},
    "grid": {"datasets": ["digits"], "tasks": ["simclr"], "models": ["cnn-small"], "evaluators": ["knn", "linear-probe"]},
    "tasks": {"simclr": {"temperature": 0.5}},
    "evaluators": {"knn": {"k": 5}},
}

scalars = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(max_size=12), st.sampled_from(["digits", "simclr", "knn", "cnn-small", "auto", "cuda"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)
keys = st.one_of(st.sampled_from(["run", "grid", "tasks", "models", "datasets", "evaluators", "modalities", "seeds",
                                  "steps", "batch_size", "lr", "device", "temperature", "k", "simclr", "knn",
                                  "flops", "seconds", "name", "suite"]), st.text(max_size=8))


@st.composite
def mutated(draw) -> dict:
    """The valid config with a few keys deleted, replaced or added at any depth."""
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in VALID.items()}
    config = _deep_copy(config)
    for _ in range(draw(st.integers(1, 4))):
        table = config
        path = draw(st.lists(keys, min_size=1, max_size=3))
        for key in path[:-1]:
            nxt = table.get(key)
            if not isinstance(nxt, dict):
                break
            table = nxt
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        last = path[-1]
        if action == "delete":
            table.pop(last, None)
        else:
            table[last] = draw(values)
    return config


def _deep_copy(value):
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def check(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_text(text)
        try:
            config = load_config(path, REGISTRY)
        except ConfigError as err:
            message = str(err)
            assert message.startswith(str(path)) and "\n" not in message and "Traceback" not in message
            return
        assert isinstance(config, Config) and config.run.steps > 0 and config.run.batch_size > 0
        assert config.run.seeds and all(isinstance(s, int) and s >= 0 for s in config.run.seeds)
        assert config.grids and all(p.grid.datasets and p.grid.evaluators for p in config.grids)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_configs_load_or_fail_cleanly(config):
    try:
        text = tomli_w.dumps(config)
    except (TypeError, ValueError):  # NaN keys etc. that TOML cannot express
        return
    check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_loads_or_fails_cleanly(text):
    check(text)

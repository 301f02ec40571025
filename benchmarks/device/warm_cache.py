"""Build every dataset of the given configs once, with the configs' options, into ``$SSLBENCH_DATA``.

A dataset's first build leaves derived files in the data cache (text: the WordPiece
tokenizer trained on the pretraining posts and the tokenised segments, under
``artifacts/``); later builds with the same options read them. ``prepare.py`` runs this
before it packs the cache, so that the lent GPU machine does not spend its minutes
training a tokenizer (measured on the 2-core CPU machine: 20 Newsgroups with full.toml's
options builds in 40 s cold, 2.5 s warm). Prints one line per dataset with its seconds.

    SSLBENCH_DATA=DIR python benchmarks/device/warm_cache.py benchmarks/full.toml benchmarks/gpu-mfu.toml
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


def warm(configs: list[Path]) -> list[tuple[str, float]]:
    """Build each (dataset, options) of ``configs`` once; return (dataset, seconds) in order."""
    from sslbench import DatasetContext
    from sslbench.plan.config import load_config
    from sslbench.data import cache_root
    from sslbench.plan.grid import plan_grid
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    registry = Registry(make_plugin_manager())
    ctx = DatasetContext(data_root=cache_root(), progress=False)
    done, seen = [], set()
    for path in configs:
        config = load_config(path, registry)
        for name in dict.fromkeys(c.dataset for c in plan_grid(config, registry).cells):
            options = config.options_for("dataset", name)
            if (name, repr(options)) in seen:
                continue
            seen.add((name, repr(options)))
            start = time.perf_counter()
            registry.get("dataset", name).build(ctx, options)
            done.append((name, time.perf_counter() - start))
    return done


def main(argv: list[str]) -> int:
    """Warm the cache for the configs named on the command line."""
    for name, seconds in warm([Path(a) for a in argv]):
        print(f"warm_cache.py: {name} built in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`sslbench --help` and `sslbench list` start without torch; builders named by strings import late."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from sslbench import DatasetSpec, ModelSpec
from sslbench.specs import LazyCallable

HEAVY = ("torch", "numpy", "pandas", "scipy", "sklearn")


def _modules_after(code: str) -> list[str]:
    """The heavy libraries imported by ``code`` in a fresh interpreter (autoloading every installed plugin)."""
    probe = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    env = {k: v for k, v in os.environ.items() if k != "SSLBENCH_DISABLE_PLUGIN_AUTOLOAD"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])  # the printed list


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["list", "--json"], ["run", "--help"]])
def test_the_cli_starts_without_torch(argv):
    code = ("import contextlib, io\nfrom sslbench.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        status = main({argv!r})\n    except SystemExit as e:\n        status = e.code\n"
            "assert status == 0, status")
    assert _modules_after(code) == []


def test_import_sslbench_is_light_and_its_torch_names_load_on_first_use():
    assert _modules_after("import sslbench") == []
    assert "torch" in _modules_after("from sslbench import LoadedDataset")


def test_every_registered_builder_resolves():
    """Each "module:function" of the installed plugins names a function (a typo fails here, not in a run)."""
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    registry = Registry(make_plugin_manager(autoload=True))
    lazy = [getattr(spec, f.name) for spec in registry for f in dataclasses.fields(spec)
            if isinstance(getattr(spec, f.name), LazyCallable)]
    assert len(lazy) >= 20
    for builder in lazy:
        assert callable(builder.resolve()), builder.target


def test_a_string_builder_is_imported_on_first_call_only():
    spec = ModelSpec(name="m", modalities={"x"}, build="json:dumps")
    assert isinstance(spec.build, LazyCallable) and spec.build.target == "json:dumps"
    assert spec.build([1]) == "[1]"


@pytest.mark.parametrize("target", ["json.dumps", "json:", ":dumps", "json:dumps()"])
def test_a_malformed_builder_string_fails_at_registration(target):
    with pytest.raises(TypeError, match="build must be callable or a 'module:function' string .* got"):
        DatasetSpec(name="d", modality="x", build=target)


def test_a_builder_string_naming_nothing_says_what_is_missing():
    spec = DatasetSpec(name="d", modality="x", build="json:no_such_function")
    with pytest.raises(AttributeError, match="json:no_such_function: module 'json' has no attribute"):
        spec.build(None, None)

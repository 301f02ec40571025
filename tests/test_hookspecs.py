"""Every hook is documented, prefixed and typed (a pytest/datasette habit)."""
import inspect

import pytest

from sslbench import hookspecs

HOOKS = [getattr(hookspecs, n) for n in dir(hookspecs) if n.startswith("sslbench_")]


def test_the_hook_set_covers_components_and_run_observers():
    names = {h.__name__ for h in HOOKS}
    assert {f"sslbench_register_{k}" for k in ("modalities", "datasets", "models", "tasks", "evaluators")} <= names
    assert {"sslbench_run_start", "sslbench_result_row", "sslbench_run_finish"} <= names


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h.__name__)
def test_every_hook_says_when_it_is_called_and_what_it_returns(hook):
    doc = inspect.getdoc(hook) or ""
    assert "Called" in doc, f"{hook.__name__}: docstring must say when it is called"
    assert "Returns:" in doc, f"{hook.__name__}: docstring must say what it returns"
    assert inspect.signature(hook).return_annotation != inspect.Signature.empty

"""The conformance checks: what every registered component must do, kind by kind.

Each ``check_*`` function raises :class:`ConformanceError` (an ``AssertionError``)
naming the component and the broken contract, or :class:`~sslbench.testing.kit.NotApplicable`
when the loaded plugins offer nothing to check it with. The contracts are those of
``sslbench/specs.py`` (``KNOWN_CAPABILITIES``), ``sslbench/contexts.py`` and the runner;
this module holds what every component shares, ``check_data``, ``check_model`` and
``check_eval`` the rest:

- options: the defaults build, the dataclass is frozen, the values serialise to JSON
  (they land in every result row) and ``sslbench list`` can describe the component;
- dataset: splits of tensors whose batches hold the pretrain keys, the declared label
  sets with the right kinds, the contracts of the capabilities it declares;
- modality: ``views``, ``tokens``, ``frames`` as declared, random draws from torch's
  global generator (the runner checkpoints and restores it);
- model: ``EncoderOutput`` with ``pooled`` (B, embed_dim), ``sequence`` when declared,
  ``token_embeddings``/``item_embeddings``/frame masking when declared, the same
  weights from the same seed, gradients that reach the parameters;
- task: a finite scalar loss, a few optimizer steps on one fixed batch lower it, the
  encoder's parameters are trained, the state dict survives ``torch.load(weights_only=True)``;
- evaluator: finite float metrics on a tiny cell, the same for the same seed, rows that
  survive a JSON round trip with every required key.
"""
from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from torch import Tensor

from sslbench.options import options_as_dict
from sslbench.plan.listing import describe
from sslbench.specs import declaration_warnings


class ConformanceError(AssertionError):
    """A component breaks a contract; the message names the component and the contract."""


def expect(condition: Any, who: str, message: str) -> None:
    """Raise :class:`ConformanceError` ``"<who>: <message>"`` unless ``condition``."""
    if not condition:
        raise ConformanceError(f"{who}: {message}")


def who_of(spec: Any) -> str:
    return f"{spec.kind} {spec.name!r} (plugin {spec.plugin!r})"


class Problems:
    """Collects the failures of independent checks, so that one run reports every problem.

    ``with problems.check(): ...`` records a :class:`ConformanceError` raised inside and
    goes on; :meth:`raise_all` raises one ConformanceError listing them all, one per line.
    """

    def __init__(self) -> None:
        self.messages: list[str] = []

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except ConformanceError as err:
            self.messages.append(str(err))

    def raise_all(self) -> None:
        if len(self.messages) == 1:
            raise ConformanceError(self.messages[0])
        if self.messages:
            lines = "\n".join(f"  - {m}" for m in self.messages)
            raise ConformanceError(f"{len(self.messages)} problems:\n{lines}")


# --- every component ---------------------------------------------------------------------


def check_declaration(spec: Any, problems: Problems | None = None) -> None:
    """Options build from their defaults, are frozen, serialise to JSON; the listing works.

    With ``problems``, each failed check is recorded there and the others still run.
    Declarations that are legal but probably wrong (:func:`sslbench.specs.declaration_warnings`)
    become Python warnings, which pytest lists in its summary.
    """
    own = problems is None
    problems = Problems() if own else problems
    who = who_of(spec)
    for warning in declaration_warnings(spec):
        warnings.warn(warning, UserWarning, stacklevel=2)
    with problems.check():
        expect(spec.description, who, "give a one-line description: EvaluatorSpec/TaskSpec/...(description=...) "
               "(shown by `sslbench list`)")
    with problems.check():
        expect(spec.options.__dataclass_params__.frozen, who,
               f"options {spec.options.__name__} must be a frozen dataclass (@dataclass(frozen=True))")
    with problems.check():
        try:
            options = spec.options()
        except (TypeError, ValueError) as err:
            raise ConformanceError(
                f"{who}: options {spec.options.__name__}() fail with their defaults: {err}") from None
        _expect_json(options_as_dict(options), who, "options (they are written into every result row)")
    with problems.check():
        _expect_json(describe(spec), who, "its `sslbench list --json` description")
    if own:
        problems.raise_all()


def _expect_json(value: Any, who: str, what: str) -> None:
    try:
        json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ConformanceError(f"{who}: {what} must serialise to JSON: {err}") from None


def expect_batch(batch: Any, who: str, what: str) -> None:
    expect(isinstance(batch, Mapping) and batch, who, f"{what} must be a non-empty dict of tensors")
    sizes = {k: len(v) for k, v in batch.items() if isinstance(v, Tensor) and v.ndim}
    expect(all(isinstance(v, Tensor) for v in batch.values()), who, f"{what} must hold only tensors")
    expect(len(set(sizes.values())) == 1, who, f"{what}: tensors must share the batch dimension, got {sizes}")

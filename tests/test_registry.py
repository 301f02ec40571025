"""Name lookups: unknown names list the valid ones and hint at the closest."""
import pytest

from sslbench import ModelSpec, TaskSpec
from sslbench.errors import UnknownComponentError


def test_unknown_name_lists_valid_names_and_suggests(registry):
    with pytest.raises(UnknownComponentError) as info:
        registry.get("model", "cnn-smal")
    message = str(info.value)
    assert "unknown model 'cnn-smal'" in message
    assert "cnn-small, patch-transformer, resnet18, timm" in message
    assert "did you mean 'cnn-small'?" in message


def test_specs_check_their_arguments_at_construction():
    with pytest.raises(ValueError, match="name 'Bad Name' is not allowed"):
        TaskSpec(name="Bad Name", build=lambda c, o: None)
    with pytest.raises(ValueError, match="modalities must name at least one"):
        ModelSpec(name="m", modalities=set(), build=lambda c, o: None)
    with pytest.raises(TypeError, match="build must be callable"):
        TaskSpec(name="t", build="not callable")


def test_options_without_defaults_are_refused():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Opts:
        size: int

    with pytest.raises(TypeError, match="every option needs a default; missing: size"):
        TaskSpec(name="t", build=lambda c, o: None, options=Opts)


def test_listing_iterates_every_kind(registry):
    kinds = {spec.kind for spec in registry}
    assert kinds == {"modality", "dataset", "model", "task", "evaluator"}

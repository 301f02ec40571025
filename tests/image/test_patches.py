"""Images as patch sequences: patchify against a naive loop, the mask token, MAE-like masked-frames."""
import textwrap

import pytest
import torch
from sslbench_image.patches import default_patch_size, patchify
from sslbench_image.vit import PatchTransformer, PatchTransformerOptions

from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid
from sslbench.results import read_rows
from sslbench.run.runner import run_grid


def test_patchify_matches_a_naive_loop():
    images = torch.randn(2, 3, 8, 12)
    out = patchify(images, 4)
    assert out.shape == (2, 6, 48)
    for b in range(2):
        for i in range(2):
            for j in range(3):
                expected = images[b, :, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].reshape(-1)
                assert torch.equal(out[b, i * 3 + j], expected)


@pytest.mark.parametrize("size, patch", [(224, 16), (32, 4), (28, 4), (8, 1)])
def test_default_patch_size(size, patch):
    assert default_patch_size(size) == patch


def test_mask_token_replaces_exactly_the_masked_patches():
    torch.manual_seed(0)
    model = PatchTransformer(8, 1, (0.5,), (0.25,), PatchTransformerOptions(dim=16, depth=1, heads=2)).eval()
    assert model.patch_size == 1
    images = torch.rand(2, 1, 8, 8)
    mask = torch.zeros(2, 64, dtype=torch.bool)
    mask[:, :5] = True
    masked = model({"image": images, "frame_mask": mask})
    changed = images.clone()
    changed[:, :, 0, :5] = 0.123  # the pixels under the masked patches do not reach the model
    assert torch.allclose(model({"image": changed, "frame_mask": mask}).sequence, masked.sequence, atol=1e-6)
    assert not torch.allclose(model({"image": changed}).sequence, model({"image": images}).sequence)
    assert masked.pooled.shape == (2, 16) and masked.sequence.shape == (2, 64, 16)


def test_masked_frames_runs_on_images_as_masked_patch_modelling(tmp_path):
    path = tmp_path / "mim.toml"
    path.write_text(textwrap.dedent("""
        [run]
        seeds = [0]
        device = "cpu"
        steps = 6
        batch_size = 32
        [grid]
        datasets = ["digits"]
        tasks = ["masked-frames", "simclr"]
        models = ["patch-transformer", "cnn-small"]
        evaluators = ["knn"]
        [models.patch-transformer]
        dim = 32
        depth = 1
    """))
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    registry = Registry(make_plugin_manager(autoload=False, modules=["sslbench_image.plugin", "sslbench_eval.plugin",
                                                                     "sslbench_audio.plugin"]))
    config = load_config(path, registry)
    plan = plan_grid(config, registry)
    keys = [c.key for c in plan.cells]
    assert "digits/masked-frames/patch-transformer" in keys and "digits/masked-frames/cnn-small" not in keys
    assert any("needs frame-masking" in str(s) for s in plan.skipped)
    summary = run_grid(config, registry, tmp_path / "out")
    assert summary.exit_code == 0
    rows = [r for r in read_rows(tmp_path / "out") if r["task"] == "masked-frames"]
    assert rows and all(r["status"] == "ok" and 0 <= r["value"] <= 1 for r in rows)

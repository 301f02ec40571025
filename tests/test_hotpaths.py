"""Options of the hot path: fused optimizers, torch.compile, pinned copies, MFU."""
import pytest
import torch

from sslbench.data_api import move_batch
from sslbench.plan.config import RunConfig
from sslbench.run import hardware
from sslbench.run.train import make_optimizer


def test_fused_adamw_takes_the_same_steps_as_the_loop_implementation():
    torch.manual_seed(0)
    a = torch.nn.Linear(8, 4)
    b = torch.nn.Linear(8, 4)
    b.load_state_dict(a.state_dict())
    x = torch.randn(16, 8)
    opt_a = make_optimizer(a, RunConfig(lr=0.01))
    opt_b = make_optimizer(b, RunConfig(lr=0.01, fused_optimizer=True))
    assert opt_b.defaults.get("fused") is True
    for _ in range(5):
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
    assert torch.allclose(a.weight, b.weight, atol=1e-6)


def test_mfu_uses_the_device_peak(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 PCIe")
    cuda = torch.device("cuda", 0)
    assert hardware.bf16_peak_flops(cuda) == 756e12  # the longer name wins over "H100"
    assert hardware.mfu(756e12 * 10, 20.0, cuda) == pytest.approx(0.5)
    assert hardware.mfu(1e12, 1.0, torch.device("cpu")) is None


def test_batches_stay_put_on_the_cpu():
    batch = {"x": torch.ones(2, 3)}
    assert move_batch(batch, torch.device("cpu"))["x"].data_ptr() == batch["x"].data_ptr()


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path, make_registry):
    """torch.compile must not change what is learned (same loss curve within float tolerance)."""
    import textwrap

    import fake_plugin

    from sslbench.plan.config import load_config
    from sslbench.run.runner import run_grid

    text = textwrap.dedent("""
        [run]
        seeds = [0]
        device = "cpu"
        steps = 8
        batch_size = 16
        [grid]
        datasets = ["blobs"]
        tasks = ["simclr"]
        models = ["mlp"]
        evaluators = ["knn"]
        [modalities.vector]
        noise = 0.0
        drop = 0.0
    """)
    registry = make_registry(fake_plugin)
    curves = {}
    for name, extra in (("eager", ""), ("compiled", "compile = true\n")):
        path = tmp_path / f"{name}.toml"
        path.write_text(text.replace("[grid]", extra + "[grid]"))
        run_grid(load_config(path, registry), registry, tmp_path / name)
        import json
        curves[name] = json.loads((tmp_path / name / "curves.jsonl").read_text().splitlines()[0])["losses"]
    assert [v for _, v in curves["compiled"]] == pytest.approx([v for _, v in curves["eager"]], rel=1e-4)


def test_losses_read_back_in_groups_still_name_the_step_that_diverged():
    """On CUDA the loop reads losses every log_every steps; the NaN check still sees each step."""
    from sslbench.run.train import (
        DivergedError,
        _check_and_log,
        _PendingLosses,
        _Progress,
    )

    class Bar:
        def set_postfix(self, **kw):
            pass

        def close(self):
            pass

    pending = _PendingLosses(every=5)
    progress = _Progress()
    for step, value in enumerate([1.0, 0.9, 0.8, 0.7, 0.6]):
        pending.add(step, torch.tensor(value))
    assert pending.due()
    _check_and_log(pending.flush(), progress, log_every=2, done=False, bar=Bar())
    assert progress.losses == [(0, 1.0), (2, pytest.approx(0.8)), (4, pytest.approx(0.6))]
    for step, value in zip(range(5, 8), [0.5, float("nan"), 0.4]):
        pending.add(step, torch.tensor(value))
    with pytest.raises(DivergedError, match="loss became nan at step 6"):
        _check_and_log(pending.flush(), progress, log_every=2, done=False, bar=Bar())

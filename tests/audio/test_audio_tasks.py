"""Masked-frames task: target pooling, losses against a naive per-frame Python
reference, padding and unmasked frames never reaching the loss, the masked
fraction against the settings, masks from the global RNG, learning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslbench import EncoderOutput

from sslbench_audio.kmeans import kmeans
from sslbench_audio.masking import expected_mask_fraction
from sslbench_audio.modality import AudioModality
from sslbench_audio.models import create_audio_transformer, masked_mean, output_lengths
from sslbench_audio.tasks import MaskedFramesTask, pool_windows
from sslbench_audio.views import ViewConfig

LENGTHS = [7, 4, 3, 6]  # model frames at stride 2: 4, 2, 2, 3
MODALITY = AudioModality({"num_features": 5}, ViewConfig())


class PointwiseEncoder(nn.Module):
    """A stride-2 encoder without context: model frame j sees only its own window.

    With it, a masked frame's prediction cannot depend on any other frame, so any
    change of the loss must come from the loss reading frames it should not. It
    honours ``frame_mask`` like the real encoder (capability ``frame-masking``).
    """

    embed_dim = 6
    frame_stride = 2

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.proj = nn.Linear(n_features, self.embed_dim)
        self.mask_embedding = nn.Parameter(torch.ones(self.embed_dim))

    def forward(self, batch):
        lengths = output_lengths(batch["lengths"], self.frame_stride)
        hidden = self.proj(pool_windows(batch["features"], batch["lengths"], self.frame_stride))
        if "frame_mask" in batch:
            hidden = torch.where(batch["frame_mask"][..., None], self.mask_embedding, hidden)
        mask = torch.arange(hidden.shape[1]) < lengths[:, None]
        sequence = torch.tanh(hidden) * mask[..., None]
        return EncoderOutput(sequence, masked_mean(sequence, mask), mask)


def _fixed_mask() -> torch.Tensor:
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[0, 1:3] = mask[1, 0] = mask[2, 1] = mask[3, 2] = True
    return mask


def _task(target: str, batch, encoder=None, seed: int = 0) -> MaskedFramesTask:
    torch.manual_seed(seed)
    encoder = encoder or create_audio_transformer("audio-transformer-tiny", 5, dropout=0.0)
    centroids = None
    if target == "clusters":
        real = torch.arange(batch["features"].shape[1]) < batch["lengths"][:, None]
        centroids = kmeans(batch["features"][real], 4, seed=0).centroids
    return MaskedFramesTask(encoder, MODALITY, 5, target=target, centroids=centroids).eval()


@torch.no_grad()
def _naive_loss(task: MaskedFramesTask, batch, mask: torch.Tensor) -> float:
    """The loss frame by frame, with Python loops (masking the real encoder by hand)."""
    features, lengths = batch["features"], batch["lengths"]
    s = task.encoder.frame_stride
    hidden, out_lengths = task.encoder.embed(batch)
    hidden = hidden.clone()
    for b in range(len(lengths)):
        for j in range(int(out_lengths[b])):
            if mask[b, j]:
                hidden[b, j] = task.encoder.mask_embedding
    prediction = task.head(task.encoder.contextualize(hidden, out_lengths).sequence)
    terms = []
    for b in range(len(lengths)):
        for j in range(int(out_lengths[b])):
            if not mask[b, j]:
                continue
            if task.target == "reconstruct":
                window = features[b, j * s : min((j + 1) * s, int(lengths[b]))]
                terms += (prediction[b, j] - window.mean(0)).abs().tolist()
            else:
                frame = features[b, j * s]
                label = min(range(len(task.centroids)), key=lambda c: float(((frame - task.centroids[c]) ** 2).sum()))
                terms.append(-float(torch.log_softmax(prediction[b, j], -1)[label]))
    return sum(terms) / len(terms)


def test_pool_windows_is_mean_of_real_frames_per_window(batch_factory):
    batch = batch_factory(LENGTHS, pad_value=50.0)
    pooled = pool_windows(batch["features"], batch["lengths"], 3)
    assert pooled.shape == (4, 3, 5)
    for b, length in enumerate(LENGTHS):
        for j in range(3):
            window = batch["features"][b, j * 3 : min(j * 3 + 3, length)]
            expected = window.mean(0) if len(window) else torch.zeros(5)
            assert torch.allclose(pooled[b, j], expected, atol=1e-6)


@pytest.mark.parametrize("target", ["reconstruct", "clusters"])
def test_loss_equals_naive_per_frame_reference(target, batch_factory):
    batch = batch_factory(LENGTHS)
    task = _task(target, batch)
    out = task(batch, frame_mask=_fixed_mask())
    assert out["loss"].item() == pytest.approx(_naive_loss(task, batch, _fixed_mask()), rel=1e-5)
    assert out["masked_fraction"].item() == pytest.approx(5 / 11)


@pytest.mark.parametrize("target", ["reconstruct", "clusters"])
def test_padding_never_reaches_the_loss(target, batch_factory):
    clean, dirty = batch_factory(LENGTHS), batch_factory(LENGTHS, pad_value=77.0)
    task = _task(target, clean)
    assert task(dirty, frame_mask=_fixed_mask())["loss"] == task(clean, frame_mask=_fixed_mask())["loss"]
    # with drawn masks too: the same global seed draws the same mask
    task = _task(target, clean)
    torch.manual_seed(5)
    a = task(clean)["loss"]
    torch.manual_seed(5)
    assert torch.allclose(a, task(dirty)["loss"], atol=1e-6)


@pytest.mark.parametrize("target", ["reconstruct", "clusters"])
def test_unmasked_frames_never_reach_the_loss(target, batch_factory):
    batch = batch_factory(LENGTHS)
    task = _task(target, batch, encoder=PointwiseEncoder(5))
    mask = _fixed_mask()
    reference = task(batch, frame_mask=mask)["loss"]
    input_masked = mask.repeat_interleave(2, dim=1)[:, :7]  # input frames inside masked windows
    changed = {k: v.clone() for k, v in batch.items()}
    changed["features"][~input_masked] += 5.0 * torch.randn_like(changed["features"][~input_masked])
    assert task(changed, frame_mask=mask)["loss"] == reference
    # the check is not vacuous: touching a masked window changes the loss
    if target == "clusters":  # move the labelled frame onto another centroid
        label = int(task.cluster_ids(changed["features"], changed["lengths"])[0, 2])
        changed["features"][0, 2] = task.centroids[(label + 1) % len(task.centroids)]
    else:
        changed["features"][0, 2] += 5.0
    assert task(changed, frame_mask=mask)["loss"] != reference


def test_drawn_masks_come_from_the_global_rng_and_stay_inside_clips():
    lengths = torch.tensor([4, 2, 1, 3, 9])  # model frames; span 2: the 1-frame clip is skipped
    task = MaskedFramesTask(PointwiseEncoder(5), MODALITY, 5)
    torch.manual_seed(3)
    first = task.draw_mask(lengths, 10)
    torch.manual_seed(3)
    assert torch.equal(first, task.draw_mask(lengths, 10))
    assert not torch.equal(first, task.draw_mask(lengths, 10))  # the global generator advances
    assert not first[torch.arange(10) >= lengths[:, None]].any()
    assert (first.sum(1)[[0, 1, 3, 4]] >= 1).all() and not first[2].any()


@pytest.mark.parametrize("mask_prob,span", [(0.3, 2), (0.15, 3)])
def test_masked_fraction_matches_the_settings(mask_prob, span):
    """The fraction of real model frames masked by the task equals the exact
    expectation of span masking for those settings, over FSDD-like clip lengths."""
    lengths = torch.arange(6, 93, 4).repeat(100)  # input frames; model frames at stride 2: 3..46
    model_lengths = output_lengths(lengths, 2)
    task = MaskedFramesTask(PointwiseEncoder(5), MODALITY, 5, mask_prob=mask_prob, span=span)
    torch.manual_seed(0)
    mask = task.draw_mask(model_lengths, int(model_lengths.max()))
    per_clip = mask.sum(1) / model_lengths
    expected = torch.tensor([expected_mask_fraction(int(n), mask_prob, span) for n in model_lengths])
    tolerance = 4 * per_clip.std().item() / len(lengths) ** 0.5
    assert abs(per_clip.mean().item() - expected.mean().item()) < tolerance
    # and the fraction the task logs is masked / real model frames of the batch
    features = torch.randn(len(lengths), int(lengths.max()), 5)
    torch.manual_seed(0)
    logged = task({"features": features, "lengths": lengths})["masked_fraction"]
    assert logged.item() == pytest.approx((mask.sum() / model_lengths.sum()).item())


def test_clips_shorter_than_a_span_are_skipped_and_an_all_short_batch_gives_zero_loss():
    batch = {"features": torch.randn(2, 3, 5), "lengths": torch.tensor([3, 1])}  # model frames 2 and 1
    task = MaskedFramesTask(PointwiseEncoder(5), MODALITY, 5, span=3)
    out = task(batch)
    assert out["masked_fraction"].item() == 0.0 and out["loss"].item() == 0.0
    out["loss"].backward()  # still a graph: the training loop's step does not break


def test_reconstruction_is_learned():
    """Smooth signals: masked windows are predictable from context; loss must drop."""
    torch.manual_seed(0)
    t = torch.arange(16.0)
    freq = torch.rand(32, 1, 1) * 0.5 + 0.1
    features = torch.sin(freq * t[None, :, None] + torch.arange(5.0)[None, None, :])
    batch = {"features": features, "lengths": torch.full((32,), 16)}
    task = MaskedFramesTask(create_audio_transformer("audio-transformer-tiny", 5, dropout=0.0), MODALITY, 5)
    optimizer = torch.optim.Adam(task.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = task(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"masked-frames reconstruct on sines: L1 {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:5]) / 5


def test_construction_errors_say_what_is_needed():
    with pytest.raises(TypeError, match="no integer frame_stride"):
        MaskedFramesTask(nn.Linear(3, 3), MODALITY, 3)
    with pytest.raises(ValueError, match="target: must be one of reconstruct, clusters"):
        MaskedFramesTask(PointwiseEncoder(5), MODALITY, 5, target="contrastive")
    with pytest.raises(ValueError, match="needs centroids of shape \\(K, 5\\)"):
        MaskedFramesTask(PointwiseEncoder(5), MODALITY, 5, target="clusters")
    with pytest.raises(ValueError, match="mask_prob: must be in"):
        MaskedFramesTask(PointwiseEncoder(5), MODALITY, 5, mask_prob=1.5)


def _tiny_dataset(lengths: list[int]):
    from sslbench import LoadedDataset

    from sslbench_audio.batching import AudioSplit, pad_sequences
    from sslbench_audio.datasets import to_tensor_split

    features, lengths_t = pad_sequences([torch.randn(n, 5) for n in lengths])
    split = to_tensor_split(AudioSplit(features, lengths_t, {"digit": torch.zeros(len(lengths), dtype=torch.long)}))
    return LoadedDataset(pretrain=split, train=split, test=split, info={"num_features": 5})


def test_build_counts_clips_shorter_than_a_span_and_refuses_a_span_no_clip_holds(tmp_path, caplog):
    from sslbench import TaskContext

    from sslbench_audio.tasks import MaskedFramesOptions, build_masked_frames

    data = _tiny_dataset([2, 3, 9, 12])  # model frames at stride 2: 1, 2, 5, 6
    ctx = TaskContext(encoder=PointwiseEncoder(5), modality=MODALITY, dataset=data, cache_dir=tmp_path)
    with caplog.at_level("WARNING", logger="sslbench_audio.tasks"):
        build_masked_frames(ctx, MaskedFramesOptions(span=3))
    assert "2 of 4 pretrain clips are shorter than one span (3 model frames = 6 input frames)" in caplog.text
    with pytest.raises(ValueError, match="span: every pretrain clip is shorter than one span of 7 model frames") as err:
        build_masked_frames(ctx, MaskedFramesOptions(span=7))
    assert "longest clip: 6 model frames" in str(err.value)
    task = build_masked_frames(ctx, MaskedFramesOptions(target="clusters", num_clusters=4))
    assert task.centroids.shape == (4, 5) and len(list((tmp_path / "sslbench_audio").glob("kmeans-*.pt"))) == 1
    with pytest.raises(ValueError, match="num_clusters: must be <= the 26 real pretrain frames"):
        build_masked_frames(ctx, MaskedFramesOptions(target="clusters", num_clusters=30))


def test_pretrain_frames_copies_frames_only_when_asked():
    from sslbench_audio.tasks import pretrain_frames

    data = _tiny_dataset([2, 3, 9, 12])
    frames, lengths = pretrain_frames(MODALITY, data.pretrain, batch_size=3)
    assert frames.shape == (26, 5) and lengths.tolist() == [2, 3, 9, 12]
    assert torch.equal(frames[:2], data.pretrain.batch(torch.tensor([0]))["features"][0, :2])
    widths_only, same_lengths = pretrain_frames(MODALITY, data.pretrain, batch_size=3, keep_frames=False)
    assert widths_only.shape == (0, 5) and torch.equal(same_lengths, lengths)

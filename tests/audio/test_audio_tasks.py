"""Masked-frames task: target pooling, losses against a naive per-frame Python
reference, padding and unmasked frames never reaching the loss, learning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslbench_audio.kmeans import kmeans
from sslbench_audio.models import EncoderOutput, create_audio_transformer, masked_mean, output_lengths
from sslbench_audio.tasks import MaskedFramesTask, pool_windows

LENGTHS = [7, 4, 1, 6]  # model frames at stride 2: 4, 2, 1, 3


class PointwiseEncoder(nn.Module):
    """A stride-2 encoder without context: model frame j sees only its own window.

    With it, a masked frame's prediction cannot depend on any other frame, so any
    change of the loss must come from the loss reading frames it should not.
    """

    embed_dim = 6
    stride = 2

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.proj = nn.Linear(n_features, self.embed_dim)

    def embed(self, batch):
        lengths = output_lengths(batch["lengths"], self.stride)
        return self.proj(pool_windows(batch["features"], batch["lengths"], self.stride)), lengths

    def contextualize(self, hidden, lengths):
        mask = torch.arange(hidden.shape[1]) < lengths[:, None]
        sequence = torch.tanh(hidden) * mask[..., None]
        return EncoderOutput(sequence, masked_mean(sequence, mask), mask)

    def forward(self, batch):
        return self.contextualize(*self.embed(batch))


def _fixed_mask() -> torch.Tensor:
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[0, 1:3] = mask[1, 0] = mask[2, 0] = mask[3, 2] = True
    return mask


def _task(target: str, batch, encoder=None, seed: int = 0) -> MaskedFramesTask:
    torch.manual_seed(seed)
    encoder = encoder or create_audio_transformer("audio-transformer-tiny", 5, dropout=0.0)
    centroids = None
    if target == "clusters":
        real = torch.arange(batch["features"].shape[1]) < batch["lengths"][:, None]
        centroids = kmeans(batch["features"][real], 4, seed=0).centroids
    return MaskedFramesTask(encoder, 5, target=target, centroids=centroids).eval()


@torch.no_grad()
def _naive_loss(task: MaskedFramesTask, batch, mask: torch.Tensor) -> float:
    """The loss frame by frame, with Python loops."""
    features, lengths = batch["features"], batch["lengths"]
    s = task.encoder.stride
    hidden, out_lengths = task.encoder.embed(batch)
    hidden = hidden.clone()
    for b in range(len(lengths)):
        for j in range(int(out_lengths[b])):
            if mask[b, j]:
                hidden[b, j] = task.mask_embedding
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
    assert out["masked_fraction"].item() == pytest.approx(5 / 10)


@pytest.mark.parametrize("target", ["reconstruct", "clusters"])
def test_padding_never_reaches_the_loss(target, batch_factory):
    clean, dirty = batch_factory(LENGTHS), batch_factory(LENGTHS, pad_value=77.0)
    task = _task(target, clean)
    assert task(dirty, frame_mask=_fixed_mask())["loss"] == task(clean, frame_mask=_fixed_mask())["loss"]
    # with drawn masks too: a fresh generator per call gives the same mask
    a = _task(target, clean)(clean)["loss"]
    b = _task(target, clean)(dirty)["loss"]
    assert torch.allclose(a, b, atol=1e-6)


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


def test_drawn_masks_stay_inside_clips_and_are_reproducible():
    lengths = torch.tensor([4, 2, 1, 3, 9])
    a, b = MaskedFramesTask(PointwiseEncoder(5), 5, seed=3), MaskedFramesTask(PointwiseEncoder(5), 5, seed=3)
    first = a.draw_mask(lengths, 10)
    assert torch.equal(first, b.draw_mask(lengths, 10))
    assert not torch.equal(first, a.draw_mask(lengths, 10))  # the generator advances between steps
    assert not first[torch.arange(10) >= lengths[:, None]].any() and (first.sum(1) >= 1).all()


def test_reconstruction_is_learned():
    """Smooth signals: masked windows are predictable from context; loss must drop."""
    torch.manual_seed(0)
    t = torch.arange(16.0)
    freq = torch.rand(32, 1, 1) * 0.5 + 0.1
    features = torch.sin(freq * t[None, :, None] + torch.arange(5.0)[None, None, :])
    batch = {"features": features, "lengths": torch.full((32,), 16)}
    task = MaskedFramesTask(create_audio_transformer("audio-transformer-tiny", 5, dropout=0.0), 5)
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
    with pytest.raises(TypeError, match="embed\\(batch\\), contextualize"):
        MaskedFramesTask(nn.Linear(3, 3), 3)
    with pytest.raises(ValueError, match="one of \\('reconstruct', 'clusters'\\)"):
        MaskedFramesTask(PointwiseEncoder(5), 5, target="contrastive")
    with pytest.raises(ValueError, match="needs centroids of shape \\(K, 5\\)"):
        MaskedFramesTask(PointwiseEncoder(5), 5, target="clusters")
    with pytest.raises(ValueError, match="mask_prob"):
        MaskedFramesTask(PointwiseEncoder(5), 5, mask_prob=1.5)

"""k-means: against scikit-learn (inertia), a naive Lloyd step, blob recovery,
determinism, and the once-per-dataset cache."""

from __future__ import annotations

import pytest
import torch

from sslbench_audio import kmeans as km


def _naive_lloyd_step(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """One Lloyd step with Python loops: assign each point, average each cluster."""
    groups: dict[int, list[torch.Tensor]] = {j: [] for j in range(len(centroids))}
    for point in x:
        distances = [float(((point - c) ** 2).sum()) for c in centroids]
        groups[distances.index(min(distances))].append(point)
    return torch.stack([torch.stack(groups[j]).mean(0) if groups[j] else centroids[j] for j in groups])


def test_one_lloyd_step_matches_naive_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 3, generator=g, dtype=torch.float64)
    init = x[:4].clone() + 0.01
    ours, _, _ = km._lloyd(x, init, n_iter=1, tol=0.0)
    assert torch.allclose(ours, _naive_lloyd_step(x, init))


def test_inertia_close_to_scikit_learn():
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    g = torch.Generator().manual_seed(1)
    # anisotropic, overlapping data: no trivially recoverable clusters
    x = torch.randn(3000, 6, generator=g) * torch.tensor([3.0, 2.0, 1.0, 1.0, 0.5, 0.5])
    for k in (8, 32):
        ours = km.kmeans(x, k, n_iter=50, n_init=3, seed=0).inertia
        with threadpool_limits(1):  # shared 2-core machines: threads only wait on each other
            ref = KMeans(k, n_init=3, max_iter=50, random_state=0).fit(x.numpy()).inertia_
        assert ours == pytest.approx(ref, rel=0.03)


def test_recovers_well_separated_blobs():
    g = torch.Generator().manual_seed(2)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    x = (centres[:, None, :] + 0.3 * torch.randn(4, 50, 2, generator=g)).reshape(-1, 2)
    found = km.kmeans(x, 4, seed=0).centroids
    assert torch.cdist(found, centres).min(1).values.max() < 0.2


def test_seeded_and_validated():
    x = torch.randn(500, 4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(km.kmeans(x, 5, seed=4).centroids, km.kmeans(x, 5, seed=4).centroids)
    assert not torch.equal(km.kmeans(x, 5, seed=4).centroids, km.kmeans(x, 5, seed=5).centroids)
    with pytest.raises(ValueError, match="N >= k"):
        km.kmeans(x[:3], 5)


def test_fit_frame_kmeans_ignores_padding_and_caches_on_disk(tmp_path, monkeypatch, batch_factory):
    batch = batch_factory([7, 3, 5, 6], n_features=4)
    first = km.fit_frame_kmeans(batch["features"], batch["lengths"], k=3, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("kmeans-*.pt"))) == 1
    # different padding values, same real frames: same key, same centroids, no refit
    noisy = batch_factory([7, 3, 5, 6], n_features=4, pad_value=99.0)
    km._memory_cache.clear()

    def fail(*args, **kwargs):
        raise AssertionError("refit although the cache should answer")

    monkeypatch.setattr(km, "kmeans", fail)
    assert torch.equal(km.fit_frame_kmeans(noisy["features"], noisy["lengths"], k=3, cache_dir=tmp_path), first)
    # another k is another key
    monkeypatch.undo()
    km.fit_frame_kmeans(batch["features"], batch["lengths"], k=2, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("kmeans-*.pt"))) == 2

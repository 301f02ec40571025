"""k-means in torch: greedy k-means++ seeding, Lloyd iterations, a disk cache.

Used for HuBERT-style targets: Hsu et al., 2021, "HuBERT: Self-Supervised Speech
Representation Learning by Masked Prediction of Hidden Units", §III-C — the first
iteration clusters MFCC frames with k-means (k = 100) and the model predicts the
cluster id of masked frames.

Seeding is k-means++ (Arthur & Vassilvitskii, 2007) in its greedy form with
2 + ln(k) candidates per step, as scikit-learn's ``KMeans`` does, so the two can be
compared on the same data (see tests).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from sslbench_audio.batching import lengths_to_mask

_CACHE_VERSION = 1
_memory_cache: dict[str, Tensor] = {}


@dataclass(frozen=True)
class KMeansResult:
    """Fitted k-means.

    Shape:
        centroids: (K, F). inertia: sum of squared distances of the points to their
        centroid. n_iter: Lloyd iterations run in the best initialisation.
    """

    centroids: Tensor
    inertia: float
    n_iter: int


def squared_distances(x: Tensor, centroids: Tensor) -> Tensor:
    """||x_i - c_j||^2 for every pair, clamped at 0.

    Shape:
        x: (N, F), centroids: (K, F). Returns (N, K).
    """
    d = (x * x).sum(1, keepdim=True) - 2.0 * x @ centroids.T + (centroids * centroids).sum(1)
    return d.clamp_min(0.0)


def assign(x: Tensor, centroids: Tensor, chunk: int = 65536) -> tuple[Tensor, Tensor]:
    """Nearest centroid of each row, in chunks of ``chunk`` rows.

    Shape:
        x: (N, F), centroids: (K, F). Returns labels (N,) long, squared distance (N,).
    """
    labels, dists = [], []
    for part in x.split(chunk):
        d = squared_distances(part, centroids)
        best, idx = d.min(1)
        labels.append(idx)
        dists.append(best)
    if not labels:
        return x.new_zeros(0, dtype=torch.long), x.new_zeros(0)
    return torch.cat(labels), torch.cat(dists)


def kmeans_plusplus(x: Tensor, k: int, generator: torch.Generator, n_local_trials: int | None = None) -> Tensor:
    """Greedy k-means++ seeding.

    Each step samples ``n_local_trials`` candidates with probability proportional
    to the squared distance to the nearest chosen centre and keeps the one that
    lowers the potential most (scikit-learn's default, 2 + ln k candidates).

    Shape:
        x: (N, F). Returns (k, F).
    """
    n = x.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(k))
    first = int(torch.randint(n, (1,), generator=generator, device=x.device))
    centres = [x[first]]
    closest = squared_distances(x, x[first : first + 1])[:, 0]
    for _ in range(1, k):
        weights = closest if float(closest.sum()) > 0 else torch.ones_like(closest)
        candidates = torch.multinomial(weights, n_local_trials, replacement=True, generator=generator)
        cand_dist = torch.minimum(closest[None, :], squared_distances(x[candidates], x))
        best = int(cand_dist.sum(1).argmin())
        closest = cand_dist[best]
        centres.append(x[candidates[best]])
    return torch.stack(centres)


def _lloyd(x: Tensor, centroids: Tensor, n_iter: int, tol: float) -> tuple[Tensor, float, int]:
    """Lloyd iterations; an emptied cluster is moved to the point farthest from its centre."""
    k = centroids.shape[0]
    scale = float(x.var(0).mean()) or 1.0  # sklearn-style tolerance: relative to data variance
    it = 0
    for it in range(1, n_iter + 1):
        labels, dist = assign(x, centroids)
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, labels, x)
        new = sums / counts.clamp_min(1)[:, None].to(x.dtype)
        empty = (counts == 0).nonzero().flatten()
        if len(empty):
            far = dist.topk(len(empty)).indices
            new[empty] = x[far]
        shift = float(((new - centroids) ** 2).sum())
        centroids = new
        if shift <= tol * scale:
            break
    _, dist = assign(x, centroids)
    return centroids, float(dist.sum()), it


def kmeans(x: Tensor, k: int, n_iter: int = 30, n_init: int = 1, seed: int = 0, tol: float = 1e-4) -> KMeansResult:
    """k-means with greedy k-means++ seeding; best of ``n_init`` seeds by inertia.

    Shape:
        x: (N, F) float. Returns centroids (k, F).
    """
    if x.ndim != 2 or x.shape[0] < k:
        raise ValueError(f"kmeans: need a (N, F) tensor with N >= k={k} rows, got shape {tuple(x.shape)}")
    if k < 1 or n_iter < 1 or n_init < 1:
        raise ValueError(f"kmeans: k, n_iter and n_init must be >= 1, got {k}, {n_iter}, {n_init}")
    generator = torch.Generator(device=x.device).manual_seed(seed)
    best: KMeansResult | None = None
    for _ in range(n_init):
        init = kmeans_plusplus(x, k, generator)
        centroids, inertia, it = _lloyd(x, init, n_iter, tol)
        if best is None or inertia < best.inertia:
            best = KMeansResult(centroids, inertia, it)
    assert best is not None
    return best


def frames_cache_key(frames: Tensor, **params: object) -> str:
    """Content hash of the frames plus the fit parameters (hex, 16 chars).

    Shape:
        frames: (M, F) real frames only.
    """
    frames = frames.float().contiguous()
    h = hashlib.sha256()
    h.update(f"v{_CACHE_VERSION};{sorted(params.items())};{tuple(frames.shape)}".encode())
    h.update(frames.cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def fit_kmeans_cached(
    frames: Tensor,
    k: int = 100,
    n_iter: int = 30,
    n_init: int = 1,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> Tensor:
    """Centroids of k-means on ``frames``, computed once per content and settings.

    The result is cached in memory and, with ``cache_dir``, on disk as
    ``kmeans-<key>.pt``, keyed by a hash of the frames and of (k, n_iter, n_init,
    seed), so a changed feature pipeline never reuses stale clusters.

    Shape:
        frames: (M, F). Returns centroids (k, F) float32 on the CPU.
    """
    key = frames_cache_key(frames, k=k, n_iter=n_iter, n_init=n_init, seed=seed)
    if key in _memory_cache:
        return _memory_cache[key].clone()
    path = Path(cache_dir) / f"kmeans-{key}.pt" if cache_dir is not None else None
    if path is not None and path.exists():
        centroids = torch.load(path, map_location="cpu", weights_only=True)
    else:
        centroids = kmeans(frames.float(), k, n_iter=n_iter, n_init=n_init, seed=seed).centroids.cpu()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")  # unique per process; the rename is atomic
            torch.save(centroids, tmp)
            tmp.replace(path)
    _memory_cache[key] = centroids
    return centroids.clone()


def fit_frame_kmeans(
    features: Tensor,
    lengths: Tensor,
    k: int = 100,
    n_iter: int = 30,
    n_init: int = 1,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> Tensor:
    """:func:`fit_kmeans_cached` on every real frame of a padded split (padding ignored).

    Shape:
        features: (N, T, F), lengths: (N,). Returns centroids (k, F) float32.
    """
    frames = features[lengths_to_mask(lengths, features.shape[1])]
    return fit_kmeans_cached(frames, k, n_iter=n_iter, n_init=n_init, seed=seed, cache_dir=cache_dir)

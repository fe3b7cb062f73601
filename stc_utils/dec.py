"""Deep Embedded Clustering (Xie, Girshick & Farhadi 2016): soft assignment, target, KL loss.

Taught in lesson 01 (DEC theory); lesson 04 trains it on top of an autoencoder.

- :func:`soft_assignment`  q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha+1)/2), normalised over j
- :func:`target_distribution`  p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), f_j = sum_i q_ij
- :func:`kl_loss`  KL(P || Q), P held fixed
- :func:`kl_gradients`  the paper's closed-form gradients with respect to z_i and mu_j
- :func:`fit_dec`  the DEC loop: P recomputed over the whole dataset every ``update_interval``
  steps, label-free monitoring (label-change rate, mean max q, cluster-size entropy), the
  stop reason, and the variants of lesson 04: IDEC's reconstruction term (``decoder``,
  ``gamma``), the per-mini-batch target (``target="batch"``) and the assignments of the
  reference notebook ``bert-autoencoder-dec-joint.md`` (``assignment=``, see :data:`ASSIGNMENTS`)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=torch.float32)


def soft_assignment(z, mu, alpha: float = 1.0) -> torch.Tensor:
    """Student's t soft assignment of each row of ``z`` (n, d) to each centroid ``mu`` (k, d)."""
    z, mu = _as_tensor(z), _as_tensor(mu)
    if z.ndim != 2 or mu.ndim != 2 or z.shape[1] != mu.shape[1]:
        raise ValueError(f"z must be (n, d) and mu (k, d) with the same d; got {tuple(z.shape)} and {tuple(mu.shape)}")
    if alpha <= 0:
        raise ValueError("alpha (degrees of freedom) must be positive")
    dist2 = torch.cdist(z, mu).pow(2)
    kernel = (1.0 + dist2 / alpha).pow(-(alpha + 1.0) / 2.0)
    return kernel / kernel.sum(dim=1, keepdim=True)


def target_distribution(q) -> torch.Tensor:
    """DEC's sharpened target: square q, divide by the soft cluster size f_j, renormalise rows."""
    q = _as_tensor(q)
    weight = q.pow(2) / q.sum(dim=0, keepdim=True)
    return weight / weight.sum(dim=1, keepdim=True)


def kl_loss(p, q, reduction: str = "batchmean") -> torch.Tensor:
    """KL(P || Q) = sum_ij p_ij log(p_ij / q_ij); ``batchmean`` divides by n, ``sum`` does not."""
    p, q = _as_tensor(p), _as_tensor(q)
    eps = torch.finfo(q.dtype).tiny
    kl = (p * (torch.log(p.clamp_min(eps)) - torch.log(q.clamp_min(eps)))).sum()
    if reduction == "sum":
        return kl
    if reduction == "batchmean":
        return kl / p.shape[0]
    raise ValueError("reduction must be 'batchmean' or 'sum'")


def kl_gradients(z, mu, p, alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form gradients of ``kl_loss(p, q, "sum")`` (P fixed) w.r.t. ``z`` and ``mu``.

    dL/dz_i  =  (alpha+1)/alpha * sum_j (1 + ||z_i - mu_j||^2/alpha)^-1 (p_ij - q_ij)(z_i - mu_j)
    dL/dmu_j = -(alpha+1)/alpha * sum_i (1 + ||z_i - mu_j||^2/alpha)^-1 (p_ij - q_ij)(z_i - mu_j)
    """
    z, mu, p = _as_tensor(z), _as_tensor(mu), _as_tensor(p)
    q = soft_assignment(z, mu, alpha)
    diff = z[:, None, :] - mu[None, :, :]  # (n, k, d)
    inv = 1.0 / (1.0 + diff.pow(2).sum(-1) / alpha)  # (n, k)
    w = ((alpha + 1.0) / alpha) * inv * (p - q)  # (n, k)
    grad_z = (w[:, :, None] * diff).sum(1)
    grad_mu = -(w[:, :, None] * diff).sum(0)
    return grad_z, grad_mu


# --------------------------------------------------------------------------- monitoring


def label_change_rate(previous, current) -> float:
    """Share of points whose hard assignment changed (DEC stops below a tolerance)."""
    previous, current = np.asarray(previous), np.asarray(current)
    return float(np.mean(previous != current))


def mean_max_q(q) -> float:
    """Average confidence of the soft assignment (1/k: uniform, 1: one-hot)."""
    return float(_as_tensor(q).max(dim=1).values.mean())


DOF_GRID = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def fit_dof(z, mu, grid=DOF_GRID) -> float:
    """Degrees of freedom of the Student-t q at which DEC's target P differs most from Q (lesson 05).

    Label-free: argmax over ``grid`` of KL(P || Q) on the vectors ``z`` and centroids ``mu``. With
    alpha = 1 on high-dimensional vectors whose distances to all centroids are alike, q is near
    uniform and P ~ Q (KL ~ 0: the clustering term is inert); with a large alpha q is near one-hot
    and again P ~ Q. In between, the target sharpens q most.
    """
    kl = [float(kl_loss(target_distribution(q), q)) for q in (soft_assignment(z, mu, a) for a in grid)]
    return float(grid[int(np.argmax(kl))])


def cluster_size_entropy(labels, n_clusters: int) -> float:
    """Entropy of the cluster sizes divided by log k: 1 for equal sizes, 0 for one cluster."""
    counts = np.bincount(np.asarray(labels), minlength=n_clusters).astype(float)
    share = counts[counts > 0] / counts.sum()
    return float(-(share * np.log(share)).sum() / np.log(n_clusters)) if n_clusters > 1 else 0.0


# --------------------------------------------------------------------------- training

ASSIGNMENTS = ("student", "attention", "reference_attention", "reference_origin")
"""How q is computed, and whether q and P get the reference's extra softmax:

- ``"student"``: DEC's Student-t kernel (:func:`soft_assignment`); no softmax;
- ``"attention"``: q = softmax(z mu^T / sqrt(d)), and the loss compares softmax(P) with
  softmax(q) (this course's first reading of the reference: q softmaxed twice);
- ``"reference_attention"``: the reference's ``compute_Q`` + ``compute_P`` as written: q =
  softmax(z mu^T / sqrt(d)) once; P = softmax(DEC's target of q); loss KL(P || q);
- ``"reference_origin"``: its ``compute_Q_origin_paper`` + ``compute_P``: the Student-t on the
  *unsquared* distance ``||z - mu||``, normalised, then softmaxed (:func:`origin_assignment`);
  P = softmax(DEC's target of q); loss KL(P || q).
"""
TARGETS = ("full", "batch")


def attention_assignment(z, mu) -> torch.Tensor:
    """The attention-style assignment of reference code: softmax_j(z_i . mu_j / sqrt(d))."""
    z, mu = _as_tensor(z), _as_tensor(mu)
    if z.ndim != 2 or mu.ndim != 2 or z.shape[1] != mu.shape[1]:
        raise ValueError(f"z must be (n, d) and mu (k, d) with the same d; got {tuple(z.shape)} and {tuple(mu.shape)}")
    return torch.softmax(z @ mu.T / z.shape[1] ** 0.5, dim=1)


def origin_assignment(z, mu, alpha: float = 1.0) -> torch.Tensor:
    """The reference's ``compute_Q_origin_paper``: (1 + ||z - mu|| / alpha)^(-(alpha+1)/2) on the
    distance itself (not its square, unlike DEC), normalised over j, then a softmax over j."""
    z, mu = _as_tensor(z), _as_tensor(mu)
    if z.ndim != 2 or mu.ndim != 2 or z.shape[1] != mu.shape[1]:
        raise ValueError(f"z must be (n, d) and mu (k, d) with the same d; got {tuple(z.shape)} and {tuple(mu.shape)}")
    kernel = (1.0 + torch.cdist(z, mu) / alpha).pow(-(alpha + 1.0) / 2.0)
    return torch.softmax(kernel / kernel.sum(dim=1, keepdim=True), dim=1)


class ClusteringLayer(nn.Module):
    """Learnable centroids; ``forward(z)`` returns the soft assignment q.

    ``assignment``: one of :data:`ASSIGNMENTS` (``"attention"`` and ``"reference_attention"`` share
    :func:`attention_assignment`; ``"reference_origin"`` is :func:`origin_assignment`).
    """

    def __init__(self, centers, alpha: float = 1.0, assignment: str = "student"):
        super().__init__()
        if assignment not in ASSIGNMENTS:
            raise ValueError(f"unknown assignment {assignment!r}; use one of {ASSIGNMENTS}")
        self.centers = nn.Parameter(_as_tensor(centers).clone().float())
        self.alpha = alpha
        self.assignment = assignment

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.assignment in ("attention", "reference_attention"):
            return attention_assignment(z, self.centers)
        if self.assignment == "reference_origin":
            return origin_assignment(z, self.centers, self.alpha)
        return soft_assignment(z, self.centers, self.alpha)


@dataclass
class DECResult:
    labels: np.ndarray
    centers: np.ndarray
    history: list[dict] = field(default_factory=list)
    center_path: list[np.ndarray] = field(default_factory=list)
    stop_reason: str = "max_steps"  # "tol": label change fell below tol; "max_steps": budget spent
    steps: int = 0  # optimiser steps taken


@torch.no_grad()
def _embed_all(encoder: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([encoder(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def _warn_small_clusters(labels, n_clusters: int, min_share: float, step: int, seen: set) -> None:
    """Warn (once per cluster and fit) when a cluster is empty or below ``min_share`` of the data."""
    counts = np.bincount(labels, minlength=n_clusters)
    for j in np.flatnonzero(counts < min_share * len(labels)):
        if j not in seen:
            seen.add(int(j))
            what = "is empty" if counts[j] == 0 else f"holds {counts[j]} points ({counts[j] / len(labels):.2%})"
            warnings.warn(f"DEC step {step}: cluster {j} {what}, below {min_share:.0%} of the data", stacklevel=3)


def _check_fit_args(x, centers, target, assignment, gamma, decoder, update_interval, steps):
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array (n, d); got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values; clean the inputs first")
    if centers.ndim != 2:
        raise ValueError(f"centers must be a 2-D array (k, d); got shape {tuple(centers.shape)}")
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; use one of {TARGETS}")
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {assignment!r}; use one of {ASSIGNMENTS}")
    if gamma < 0 or (gamma > 0 and decoder is None):
        raise ValueError("gamma (weight of the reconstruction term) must be >= 0, and > 0 needs a decoder")
    if update_interval < 1 or steps < 0:
        raise ValueError("update_interval must be >= 1 and steps >= 0")


def fit_dec(x, centers, encoder: nn.Module | None = None, steps: int = 200, update_interval: int = 20,
            batch_size: int = 256, lr: float = 0.01, tol: float = 0.001, alpha: float = 1.0, seed: int = 0,
            device=None, decoder: nn.Module | None = None, gamma: float = 0.0, target: str = "full",
            assignment: str = "student", min_share: float = 0.01, optimizer: str = "sgd") -> DECResult:
    """Train centroids (and ``encoder``, if given) by minimising KL(P || Q) as in DEC.

    Every ``update_interval`` steps the target P is recomputed over the *whole* dataset and
    held fixed in between (the paper), and training stops once fewer than ``tol`` of the
    points change cluster between two updates (``stop_reason="tol"``; otherwise
    ``"max_steps"``). Only label-free signals are recorded. ``x`` are the inputs (the
    embeddings themselves when ``encoder`` is None).

    Variants, each off by default:

    - ``decoder`` + ``gamma > 0``: IDEC (Guo et al. 2017), loss = KL + gamma * MSE(decoder(z), x).
    - ``target="batch"``: P computed from each mini-batch's own q at every step (many
      re-implementations); the full-data P is then used only for monitoring and stopping.
    - ``assignment``: see :data:`ASSIGNMENTS` (the reference's two, as it wrote them, use
      ``target="batch"`` to compute P per batch as its ``forward`` does; it does not detach P).

    A warning is issued when a cluster empties or falls below ``min_share`` of the data.
    ``optimizer``: ``"sgd"`` (momentum 0.9, DEC's) or ``"adam"`` (torchSTC's Self-Train, with ``lr``).
    """
    from .cluster import check_n_clusters

    torch.manual_seed(seed)
    device = torch.device(device or "cpu")
    x = _as_tensor(x).to(device)
    centers = _as_tensor(centers)
    _check_fit_args(x, centers, target, assignment, gamma, decoder, update_interval, steps)
    encoder = (encoder or nn.Identity()).to(device)
    k = check_n_clusters(len(centers), len(x))
    with torch.no_grad():
        width = encoder.eval()(x[:1]).shape[1]
    if width != centers.shape[1]:
        raise ValueError(f"centers have {centers.shape[1]} columns but the encoder outputs {width}")
    head = ClusteringLayer(centers, alpha, assignment).to(device)
    params = list(head.parameters()) + list(encoder.parameters())
    if decoder is not None:
        decoder = decoder.to(device)
        params += list(decoder.parameters())
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9) if optimizer == "sgd" else torch.optim.Adam(params, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    # the reference's variants put a further softmax on P (compute_P); "attention" on q as well
    def sharpen(w):  # P: the reference's compute_P softmaxes it
        return w if assignment == "student" else torch.softmax(w, dim=1)

    def sharpen_q(w):  # q: softmaxed again only in the course's earlier reading
        return torch.softmax(w, dim=1) if assignment == "attention" else w
    history, path = [], [head.centers.detach().cpu().numpy().copy()]
    previous, p_all, seen, stop_reason = None, None, set(), "max_steps"
    order = torch.randperm(len(x), generator=generator)
    cursor = 0
    for step in range(steps + 1):
        if step % update_interval == 0:
            encoder.eval()
            with torch.no_grad():
                z_all = _embed_all(encoder, x, 1024)
                q_all = head(z_all)
            p_all = sharpen(target_distribution(q_all))
            labels = q_all.argmax(1).cpu().numpy()
            change = 1.0 if previous is None else label_change_rate(previous, labels)
            record = {"step": step, "loss": float(kl_loss(p_all, sharpen_q(q_all))), "label_change": change,
                      "mean_max_q": mean_max_q(q_all), "size_entropy": cluster_size_entropy(labels, k)}
            if decoder is not None:
                with torch.no_grad():
                    record["recon"] = float(nn.functional.mse_loss(_embed_all(decoder.eval(), z_all, 1024), x))
                decoder.train()
            history.append(record)
            _warn_small_clusters(labels, k, min_share, step, seen)
            path.append(head.centers.detach().cpu().numpy().copy())
            if previous is not None and change < tol:
                stop_reason = "tol"
                break
            previous = labels
            encoder.train()
        if step == steps:  # ``steps`` optimiser steps taken (0 .. steps-1)
            break
        if cursor + batch_size > len(x):
            order, cursor = torch.randperm(len(x), generator=generator), 0
        idx = order[cursor : cursor + batch_size].to(device)
        cursor += batch_size
        z = encoder(x[idx])
        q = head(z)
        p = sharpen(target_distribution(q.detach())) if target == "batch" else p_all[idx]
        loss = kl_loss(p, sharpen_q(q))
        if decoder is not None:
            loss = loss + gamma * nn.functional.mse_loss(decoder(z), x[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        q_all = head(_embed_all(encoder.eval(), x, 1024))
    labels = q_all.argmax(1).cpu().numpy()
    _warn_small_clusters(labels, k, min_share, step, seen)
    return DECResult(labels, head.centers.detach().cpu().numpy(), history, path, stop_reason, step)

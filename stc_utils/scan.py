"""Clustering by agreeing with your nearest neighbours: SCAN on frozen sentence vectors.

Taught in lesson 08 (beyond the papers, on a CPU). SCAN (Van Gansbeke et al., ECCV 2020,
"Learning to classify images without labels") trains a classifier with K outputs so that each
text and its nearest neighbours get the same prediction, while the average prediction stays
spread over the K clusters:

    loss = - mean_i mean_{j in kNN(i)} log <p_i, p_j>   -   w * H(mean_i p_i)

Here the encoder stays frozen (MiniLM's vectors, cached) and only small heads train, so a run
takes a minute on a CPU. Several heads train side by side from different random starts; the
one with the lowest loss on all texts is kept (the paper's label-free selection), or, by
default, the heads vote: a consensus clustering of all their assignments.

- :data:`SCAN_SETTINGS`  the defaults: k = 20 neighbours and entropy weight 5 from SCAN's
  configuration files; heads, learning rate and epochs for a head on frozen vectors
- :func:`neighbours`  each text's k nearest other texts by cosine similarity
- :func:`scan_loss`  the loss above, with its two terms
- :func:`consensus`  one clustering that the heads' assignments agree on
- :func:`merge_by_graph`  merge over-clustered groups back to K along the neighbour graph
- :func:`fit_scan`  train the heads, stop without labels, return the consensus (or the kept head)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .cdp import check_n_clusters, check_points
from .cluster import kmeans
from .config import get_device
from .dec import label_change_rate
from .metrics import ari, hungarian_match

SCAN_SETTINGS = {
    "neighbours": 20,  # SCAN's num_neighbors (configs/scan/*.yml)
    "entropy_weight": 5.0,  # SCAN's entropy_weight
    "heads": 10,  # SCAN's ImageNet runs: 10 heads, the lowest loss kept
    "hidden": 512,  # one hidden layer: a linear head on unit vectors learns too slowly
    "lr": 1e-3,  # Adam; SCAN's 1e-4 trains a whole network, here only the heads train
    "weight_decay": 1e-4,  # SCAN's
    "batch_size": 128,  # SCAN's
    "epochs": 30,  # at most; the run stops earlier when the assignments settle
    "tol": 0.001,  # stop when fewer than this share of texts change cluster in an epoch ...
    "patience": 3,  # ... this many epochs in a row
    "consensus": True,  # labels = the heads' consensus; False: the lowest-loss head's (SCAN's rule)
}


def neighbours(x, k: int) -> np.ndarray:
    """(n, k) indices of each row's k nearest *other* rows by cosine similarity."""
    from sklearn.neighbors import NearestNeighbors

    x = check_points(x)
    if not 1 <= k < len(x):
        raise ValueError(f"neighbours: k={k} needs 1 <= k < the number of texts ({len(x)}); "
                         "use fewer neighbours or more texts")
    idx = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(x).kneighbors(x, return_distance=False)
    # drop each row itself (duplicates may put another copy first, so remove by identity)
    own = idx == np.arange(len(x))[:, None]
    own[~own.any(1), -1] = True  # a row whose own index was crowded out by duplicates: drop the last
    return idx[~own].reshape(len(x), k)


def scan_loss(p: torch.Tensor, p_nb: torch.Tensor, entropy_weight: float = 5.0):
    """(total, consistency, entropy) for probabilities ``p`` (..., n, K) and their neighbours' ``p_nb``.

    consistency = - mean log <p_i, p_j>; entropy = H(mean_i p_i), at most log K when the
    average prediction is uniform; total = consistency - entropy_weight * entropy. Leading
    dimensions (heads) are kept: one value per head.
    """
    consistency = -torch.log((p * p_nb).sum(-1).clamp_min(1e-7)).mean(-1)
    mean_p = p.mean(-2)
    entropy = -(mean_p * torch.log(mean_p.clamp_min(1e-8))).sum(-1)
    return consistency - entropy_weight * entropy, consistency, entropy


def consensus(assignments, n_clusters: int, seed: int = 0, how: str = "kmeans") -> np.ndarray:
    """One clustering of n texts from several (m, n) assignments (heads, runs), no label used.

    ``how="kmeans"``: each text becomes the concatenation of its m one-hot assignments; the squared
    distance between two texts is then 2 x the number of assignments that separate them, so K-means
    (10 starts) on these rows groups the texts that most assignments put together (the
    within-cluster-variance consensus of Topchy, Jain & Punch, IEEE TPAMI 2005). It spends all
    ``n_clusters`` clusters, so when most assignments leave a cluster (nearly) empty, one
    assignment's split can take it (lesson 08f).
    ``how="majority"``: the assignment that agrees most with the others (mean ARI) is the
    reference; each assignment's clusters are matched one to one to the reference's (Hungarian,
    :func:`stc_utils.metrics.hungarian_match`), and each text takes the cluster most assignments
    give it, ties to the reference. Returns the reference's numbering.
    Cluster numbers need not match across assignments. Labels must be integers >= 0 (no noise label
    -1); the rows are assignments, the columns texts.
    """
    a = np.asarray(assignments)
    if a.ndim != 2 or a.shape[1] < n_clusters:
        raise ValueError(f"consensus: expected (assignments, texts) with at least {n_clusters} texts, got {a.shape}")
    if not np.issubdtype(a.dtype, np.integer) or a.min() < 0:
        raise ValueError("consensus: expected non-negative integer cluster labels (no -1 noise label), "
                         f"got dtype {a.dtype}, minimum {a.min()}")
    width = int(a.max()) + 1
    if how == "kmeans":
        return kmeans(np.concatenate([np.eye(width, dtype=np.float32)[row] for row in a], 1), n_clusters,
                      seed=seed, n_init=10)
    if how != "majority":
        raise ValueError(f"consensus: how must be 'kmeans' or 'majority', got {how!r}")
    ref = int(np.array([[ari(r, s) for s in a] for r in a]).sum(1).argmax())
    votes, texts = np.zeros((a.shape[1], width)), np.arange(a.shape[1])
    votes[texts, a[ref]] += 0.5  # ties go to the reference
    for row in a:
        match = hungarian_match(a[ref], row)  # {this assignment's cluster: the reference's}
        kept = np.isin(row, list(match))  # a cluster left unmatched (more clusters than the reference) votes for none
        votes[texts[kept], [match[c] for c in row[kept]]] += 1
    return votes.argmax(1)


def merge_by_graph(labels, nb, n_clusters: int) -> np.ndarray:
    """Merge the groups of ``labels`` down to ``n_clusters`` along the neighbour graph, no label used.

    ``nb`` (n, k) holds each text's neighbours (:func:`neighbours`). The link between two groups
    is the number of neighbour edges between them (both directions) divided by (size a x size b),
    average linkage on the graph; the densest pair merges first, until ``n_clusters`` remain.
    Used after over-clustering (2-5 x K groups), so that a big class may take several groups and
    a small one a group of its own (lesson 08b, section 5). Returns labels 0..n_clusters-1.
    """
    labels = np.unique(np.asarray(labels), return_inverse=True)[1].ravel()
    nb = np.asarray(nb)
    if nb.ndim != 2 or len(nb) != len(labels):
        raise ValueError(f"merge_by_graph: expected neighbours of shape ({len(labels)}, k), got {nb.shape}")
    groups = int(labels.max()) + 1
    if not 1 <= n_clusters <= groups:
        raise ValueError(f"merge_by_graph: cannot merge {groups} groups into {n_clusters} clusters")
    w = np.zeros((groups, groups))
    np.add.at(w, (np.repeat(labels, nb.shape[1]), labels[nb].ravel()), 1.0)
    w, size = w + w.T, np.bincount(labels, minlength=groups).astype(float)
    alive, owner = list(range(groups)), np.arange(groups)
    while len(alive) > n_clusters:
        idx = np.array(alive)
        link = w[np.ix_(idx, idx)] / np.outer(size[idx], size[idx])
        np.fill_diagonal(link, -1.0)
        a, b = idx[list(np.unravel_index(int(link.argmax()), link.shape))]
        w[a] += w[b]
        w[:, a] += w[:, b]
        size[a] += size[b]
        owner[owner == b] = a
        alive.remove(b)
    return np.unique(owner[labels], return_inverse=True)[1]


class Heads(nn.Module):
    """``heads`` independent MLPs d -> hidden -> K computed in one batched product."""

    def __init__(self, dim: int, n_clusters: int, heads: int, hidden: int):
        super().__init__()
        layers = [nn.Linear(dim, hidden) for _ in range(heads)], [nn.Linear(hidden, n_clusters) for _ in range(heads)]
        self.w1 = nn.Parameter(torch.stack([m.weight.T for m in layers[0]]))  # PyTorch's default init, per head
        self.b1 = nn.Parameter(torch.stack([m.bias for m in layers[0]])[:, None])
        self.w2 = nn.Parameter(torch.stack([m.weight.T for m in layers[1]]))
        self.b2 = nn.Parameter(torch.stack([m.bias for m in layers[1]])[:, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(heads, n, K) probabilities."""
        h = torch.relu(torch.einsum("nd,hdm->hnm", x, self.w1) + self.b1)
        return (torch.einsum("hnm,hmk->hnk", h, self.w2) + self.b2).softmax(-1)


@dataclass
class ScanResult:
    labels: np.ndarray  # the heads' consensus (settings consensus=True), else the kept head's argmax
    probs: np.ndarray  # (n, K) of the kept head: its columns are its clusters, not the vote's numbering
    head: int  # the kept head: lowest loss on all texts
    head_losses: np.ndarray  # every head's final loss on all texts
    head_labels: np.ndarray  # (heads, n): every head's assignment; head_labels[head] is the kept head's
    stop_reason: str
    history: list[dict] = field(default_factory=list)  # one dict per epoch (the kept head's view)
    seconds: float = 0.0
    model: Heads | None = None  # the trained heads (all of them): model(x) gives (heads, n, K) probabilities


def _full_loss(model: Heads, x: torch.Tensor, nb: torch.Tensor, w: float):
    """Every head's loss on all texts, averaged over all k neighbours; and the probabilities."""
    with torch.no_grad():
        p = model(x)
        parts = [scan_loss(p, p[:, nb[:, m]], w) for m in range(nb.shape[1])]
        return [torch.stack(t).mean(0) for t in zip(*parts)], p


def fit_scan(x, n_clusters: int, seed: int = 0, device=None, progress: bool = True, on_epoch=None,
             **settings) -> ScanResult:
    """Train SCAN heads on the frozen vectors ``x`` (n, d); no label is used.

    Each epoch visits every text once with one neighbour drawn at random from its k nearest.
    After each epoch every head's loss is computed on all texts and all k neighbours; the
    lowest one is followed (the kept head). Stop (``stop_reason``): ``"tol"`` when fewer than ``tol`` of the
    texts change cluster ``patience`` epochs in a row, else ``"max_epochs"``. Raises ValueError
    when there are too few texts (or too few distinct ones) for the neighbours or the clusters.
    ``batch_size`` larger than the corpus falls back to the whole corpus as one batch. At the
    end, ``labels`` is the :func:`consensus` of all heads (``consensus=False`` or a single head:
    the kept head's); ``probs`` and ``history`` stay the kept head's.
    ``on_epoch(record, labels)``, if given, sees each epoch's history record and the kept head's
    labels (a lesson scores them for display; the fit never sees what it returns).
    """
    from tqdm.auto import tqdm

    unknown = set(settings) - set(SCAN_SETTINGS)
    if unknown:
        raise ValueError(f"fit_scan: unknown settings {sorted(unknown)}; known: {', '.join(SCAN_SETTINGS)}")
    s = {**SCAN_SETTINGS, **settings}
    x = check_points(x)
    k = check_n_clusters(n_clusters, len(x))
    distinct = len(np.unique(x.round(6), axis=0))
    if distinct < k:
        raise ValueError(f"fit_scan: only {distinct} distinct vectors (texts) for {k} clusters; "
                         "use fewer clusters or remove the duplicates")
    if len(x) <= s["neighbours"]:
        raise ValueError(f"fit_scan: {len(x)} texts; SCAN needs more than neighbours={s['neighbours']} "
                         "(use fewer neighbours, or K-means for so small a corpus)")
    start, dev = time.perf_counter(), get_device(device)
    nb_np = neighbours(x, s["neighbours"])
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    xt, nb = torch.from_numpy(x).to(dev), torch.from_numpy(nb_np).to(dev)
    model = Heads(x.shape[1], k, s["heads"], s["hidden"]).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
    batch, history, previous, calm, stop = min(s["batch_size"], len(x)), [], None, 0, "max_epochs"
    for epoch in tqdm(range(1, s["epochs"] + 1), desc="SCAN epochs", disable=not progress, leave=False):
        order = rng.permutation(len(x))
        pick = rng.integers(0, s["neighbours"], len(x))
        for b in range(0, len(x), batch):
            i = torch.from_numpy(order[b:b + batch]).to(dev)
            j = nb[i, torch.from_numpy(pick[order[b:b + batch]]).to(dev)]
            loss = scan_loss(model(xt[i]), model(xt[j]), s["entropy_weight"])[0].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        (total, cons, ent), p = _full_loss(model, xt, nb, s["entropy_weight"])
        best = int(total.argmin())
        every = p.argmax(2).cpu().numpy()  # (heads, n)
        labels = every[best]
        change = 1.0 if previous is None else label_change_rate(previous[best], labels)  # the same head's
        history.append({"epoch": epoch, "head": best, "loss": float(total[best]), "consistency": float(cons[best]),
                        "entropy": float(ent[best]), "label_change": change,
                        "mean_max_p": float(p[best].max(1).values.mean()),
                        "clusters_used": int(len(np.unique(labels)))})
        if on_epoch is not None:
            on_epoch(history[-1], labels)
        previous, calm = every, (calm + 1 if change < s["tol"] else 0)
        if calm >= s["patience"]:
            stop = "tol"
            break
    if s["consensus"] and len(every) > 1:
        labels = consensus(every, k, seed=seed)
    return ScanResult(labels=labels, probs=p[best].cpu().numpy(), head=best, head_losses=total.cpu().numpy(),
                      head_labels=every, stop_reason=stop, history=history,
                      seconds=time.perf_counter() - start, model=model.eval())

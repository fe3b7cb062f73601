"""Lesson 08's SCAN heads: the loss by hand, the neighbours, label-free selection, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stc_utils.metrics import ari, evaluate
from stc_utils.scan import Heads, consensus, fit_scan, merge_by_graph, neighbours, scan_loss


def _blobs(n_per=40, k=4, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1, (k, dim)) * 4
    y = np.repeat(np.arange(k), n_per)
    return (centers[y] + rng.normal(0, 0.5, (len(y), dim))).astype(np.float32), y


def test_scan_loss_terms_by_hand():
    p = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    q = torch.tensor([[0.8, 0.2], [0.3, 0.7], [0.5, 0.5]])
    total, cons, ent = scan_loss(p, q, entropy_weight=2.0)
    dots = [0.9 * 0.8 + 0.1 * 0.2, 0.2 * 0.3 + 0.8 * 0.7, 0.5]
    mean = [(0.9 + 0.2 + 0.5) / 3, (0.1 + 0.8 + 0.5) / 3]
    assert cons.item() == pytest.approx(-np.mean(np.log(dots)), rel=1e-6)
    assert ent.item() == pytest.approx(-sum(m * math.log(m) for m in mean), rel=1e-6)
    assert total.item() == pytest.approx(cons.item() - 2.0 * ent.item(), rel=1e-6)
    # one value per head when a leading dimension is given
    assert scan_loss(torch.stack([p, p]), torch.stack([q, q]))[0].shape == (2,)


def test_heads_are_independent_mlps_giving_probabilities():
    torch.manual_seed(0)
    heads = Heads(6, 3, heads=4, hidden=5)
    x = torch.randn(7, 6)
    p = heads(x)
    assert p.shape == (4, 7, 3) and torch.allclose(p.sum(-1), torch.ones(4, 7))
    h = 2  # head 2 by hand
    ref = (torch.relu(x @ heads.w1[h] + heads.b1[h]) @ heads.w2[h] + heads.b2[h]).softmax(-1)
    assert torch.allclose(p[h], ref, atol=1e-6)


def test_neighbours_exclude_the_text_itself_even_with_duplicates():
    x, _ = _blobs(n_per=10)
    nb = neighbours(x, 5)
    assert nb.shape == (40, 5) and not (nb == np.arange(40)[:, None]).any()
    dup = np.repeat(x[:3], 4, axis=0)  # every vector four times
    nb = neighbours(dup, 3)
    assert not (nb == np.arange(12)[:, None]).any()
    with pytest.raises(ValueError, match="k=40 needs"):
        neighbours(x, 40)


def test_fit_scan_separates_blobs_and_keeps_the_lowest_loss_head():
    x, y = _blobs()
    fit = fit_scan(x, 4, seed=0, progress=False, neighbours=5, heads=3, epochs=15)
    assert evaluate(y, fit.labels)["acc"] == 1.0
    assert fit.head == int(np.argmin(fit.head_losses)) and fit.head_labels.shape == (3, len(x))
    assert np.array_equal(fit.labels, consensus(fit.head_labels, 4, seed=0))  # the heads' vote
    kept = fit_scan(x, 4, seed=0, progress=False, neighbours=5, heads=3, epochs=15, consensus=False)
    assert np.array_equal(kept.labels, fit.head_labels[fit.head])  # SCAN's rule: the kept head's labels
    assert fit.history[-1]["clusters_used"] == 4 and fit.probs.shape == (len(x), 4)
    with torch.no_grad():  # the returned heads are the trained ones: they give the fit's assignments again
        p = fit.model(torch.from_numpy(x))
    assert np.array_equal(p.argmax(2).numpy(), fit.head_labels) and np.allclose(p[fit.head].numpy(), fit.probs, atol=1e-6)
    assert fit.stop_reason in ("tol", "max_epochs") and len(fit.history) <= 15
    assert fit.stop_reason == "tol"  # separable blobs settle: no text changes for 3 epochs
    again = fit_scan(x, 4, seed=0, progress=False, neighbours=5, heads=3, epochs=15)
    assert np.array_equal(fit.labels, again.labels)  # same seed, same labels


def test_consensus_follows_the_majority_whatever_the_cluster_names():
    y = np.repeat(np.arange(3), 10)
    wrong = y.copy()
    wrong[[0, 10, 20]] = [1, 2, 0]  # one head puts three texts elsewhere
    heads = np.stack([(y + 1) % 3, y, 2 - wrong])  # cluster numbers are arbitrary per head
    assert evaluate(y, consensus(heads, 3, seed=0))["acc"] == 1.0
    # by hand, every pair: the squared distance of two texts' one-hot rows is 2 x the heads that separate them
    rows = np.concatenate([np.eye(3)[h] for h in heads], 1)
    dist = ((rows[:, None] - rows[None]) ** 2).sum(-1)
    assert np.array_equal(dist, 2 * (heads[:, :, None] != heads[:, None, :]).sum(0)) and dist[0, 1] == 2
    with pytest.raises(ValueError, match="consensus: expected"):
        consensus(y, 3)  # one assignment given as a 1-d array
    with pytest.raises(ValueError, match="at least 3 texts"):
        consensus(heads[:, :2], 3)
    with pytest.raises(ValueError, match="non-negative integer"):
        consensus(np.stack([y, y - 1]), 3)  # a -1 noise label



def test_majority_consensus_keeps_the_majority_where_kmeans_follows_one_split():
    """SearchSnippets in miniature (lesson 08f, sections 2-3): four runs of five use 3 of K = 4 clusters
    (the fourth keeps one text), one run splits a class. K-means on the one-hot rows must spend its
    fourth cluster somewhere and takes the split; the majority keeps the four runs' partition."""
    y = np.repeat(np.arange(3), 20)
    runs = []
    for r in range(4):
        run = y.copy()
        run[r] = 3  # a nearly empty fourth cluster, a different text in each run
        runs.append((run + r) % 4)  # cluster numbers are arbitrary per run
    split = y.copy()
    split[:10] = 3  # the fifth run splits class 0 in two halves
    runs = np.stack([*runs, split])
    by_kmeans = consensus(runs, 4, seed=0)
    assert len(np.unique(by_kmeans[:20])) == 2  # the split won
    by_majority = consensus(runs, 4, how="majority")
    assert ari(y, by_majority) == 1.0 and len(np.unique(by_majority)) == 3
    assert ari(by_majority, consensus(runs[[4, 2, 0, 3, 1]], 4, how="majority")) == 1.0  # any run order: same groups
    with pytest.raises(ValueError, match="how must be"):
        consensus(runs, 4, how="median")

def test_merge_by_graph_rejoins_split_classes_and_keeps_a_small_one():
    sizes = [120, 120, 24]  # two big classes and a small one, as SearchSnippets' 370 beside 2,660
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 1, (3, 16)) * 4
    y = np.repeat(np.arange(3), sizes)
    x = (centers[y] + rng.normal(0, 0.5, (len(y), 16))).astype(np.float32)
    nb = neighbours(x, 5)
    fine = np.where(y < 2, 2 * y + (np.arange(len(y)) % 2), 4)  # each big class in two halves, 5 groups
    merged = merge_by_graph(fine + 7, nb, 3)  # group numbers need not start at 0
    assert evaluate(y, merged)["acc"] == 1.0 and sorted(np.bincount(merged)) == [24, 120, 120]
    # by hand, the first merge: edges between two groups (both directions) / (size a x size b)
    w = np.zeros((5, 5))
    np.add.at(w, (np.repeat(fine, 5), fine[nb].ravel()), 1.0)
    link = (w + w.T) / np.outer(np.bincount(fine), np.bincount(fine))
    np.fill_diagonal(link, -1)
    assert set(np.unravel_index(int(link.argmax()), link.shape)) in ({0, 1}, {2, 3})
    assert np.array_equal(merge_by_graph(fine, nb, 5), fine)  # nothing to merge
    with pytest.raises(ValueError, match="cannot merge 5 groups into 6 clusters"):
        merge_by_graph(fine, nb, 6)
    with pytest.raises(ValueError, match="expected neighbours of shape"):
        merge_by_graph(fine, nb[:10], 3)


def test_fit_scan_bad_input_is_a_clear_error():
    x, _ = _blobs(n_per=5)  # 20 texts
    with pytest.raises(ValueError, match="n_clusters=30 is larger than the number of texts"):
        fit_scan(x, 30, progress=False)
    with pytest.raises(ValueError, match="20 texts; SCAN needs more than neighbours=20"):
        fit_scan(x, 4, progress=False)
    with pytest.raises(ValueError, match="only 1 distinct vectors"):
        fit_scan(np.ones((50, 8), np.float32), 3, progress=False)
    with pytest.raises(ValueError, match="unknown settings \\['epoch'\\]"):
        fit_scan(x, 4, progress=False, epoch=3)
    bad = x.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_scan(bad, 4, progress=False, neighbours=3)


def test_batch_larger_than_the_corpus_falls_back_to_one_batch():
    x, y = _blobs(n_per=10)
    fit = fit_scan(x, 4, seed=1, progress=False, neighbours=3, heads=2, epochs=2, batch_size=1000)
    assert len(fit.history) == 2 and fit.labels.shape == (40,)

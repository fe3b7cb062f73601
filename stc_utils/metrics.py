"""Clustering evaluation: Hungarian-matched accuracy, NMI, AMI, ARI, matched P/R/F1, purity.

Taught in lesson 06 (evaluation); used by every lesson that reports a number.

Cluster ids are an arbitrary permutation of the classes, so accuracy and F1 first match
clusters to classes with the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``)
on the contingency matrix. When there are more clusters than classes, the unmatched
clusters count as errors (each class is matched to at most one cluster).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm


def _check(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} labels vs {len(y_pred)} predictions")
    if y_true.size == 0:
        raise ValueError("cannot evaluate an empty clustering")
    return y_true, y_pred


def contingency(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts ``C[i, j]`` of items of class ``classes[i]`` put in cluster ``clusters[j]``."""
    y_true, y_pred = _check(y_true, y_pred)
    classes, ti = np.unique(y_true, return_inverse=True)
    clusters, pi = np.unique(y_pred, return_inverse=True)
    table = np.zeros((len(classes), len(clusters)), dtype=np.int64)
    np.add.at(table, (ti, pi), 1)
    return table, classes, clusters


def hungarian_match(y_true, y_pred) -> dict:
    """Best one-to-one matching of clusters to classes: ``{cluster_id: class_id}``.

    Unmatched clusters (when there are more clusters than classes) are absent.
    """
    return cluster_accuracy(y_true, y_pred, return_mapping=True)[1]


def cluster_accuracy(y_true, y_pred, return_mapping: bool = False):
    """Accuracy after the Hungarian matching of clusters to classes.

    With ``return_mapping=True`` also returns ``{cluster_id: class_id}``.
    """
    table, classes, clusters = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    acc = float(table[rows, cols].sum() / table.sum())
    if not return_mapping:
        return acc
    return acc, {clusters[c].item(): classes[r].item() for r, c in zip(rows, cols)}


def nmi(y_true, y_pred, average_method: str = "arithmetic") -> float:
    """Normalised mutual information, ``I / mean(H(true), H(pred))`` (arithmetic by default)."""
    return float(skm.normalized_mutual_info_score(*_check(y_true, y_pred), average_method=average_method))


def ami(y_true, y_pred) -> float:
    """Adjusted (for chance) mutual information."""
    return float(skm.adjusted_mutual_info_score(*_check(y_true, y_pred)))


def ari(y_true, y_pred) -> float:
    """Adjusted Rand index."""
    return float(skm.adjusted_rand_score(*_check(y_true, y_pred)))


def matched_prf(y_true, y_pred) -> dict:
    """Macro precision, recall and F1 over classes after the Hungarian matching.

    Each class is scored against the cluster matched to it; a class left without a cluster (fewer
    clusters than classes) scores 0. The matching is the course's choice: the CDP paper reports
    P, R and F1 without saying how clusters meet classes (lesson 03).
    """
    table, _, _ = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    n_classes = table.shape[0]
    p, r, f = np.zeros(n_classes), np.zeros(n_classes), np.zeros(n_classes)
    tp = table[rows, cols].astype(float)
    p[rows] = np.divide(tp, table[:, cols].sum(axis=0), out=np.zeros_like(tp), where=tp > 0)
    r[rows] = tp / table[rows].sum(axis=1)
    denom = p[rows] + r[rows]
    f[rows] = np.divide(2 * p[rows] * r[rows], denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": float(p.mean()), "recall": float(r.mean()), "f1": float(f.mean())}


def purity(y_true, y_pred) -> float:
    """Share of items in the majority class of their cluster (tends to 1 as k -> n)."""
    table, _, _ = contingency(y_true, y_pred)
    return float(table.max(axis=0).sum() / table.sum())


def evaluate(y_true, y_pred) -> dict:
    """Every metric in one dict: acc, nmi, ami, ari, precision, recall, f1, purity."""
    return {"acc": cluster_accuracy(y_true, y_pred), "nmi": nmi(y_true, y_pred), "ami": ami(y_true, y_pred),
            "ari": ari(y_true, y_pred), **matched_prf(y_true, y_pred), "purity": purity(y_true, y_pred)}


def summarize(runs: Iterable[Mapping[str, float]], keys: Iterable[str] | None = None) -> dict:
    """Mean and (sample, ddof=1) standard deviation of each metric over several seeds.

    Returns ``{metric: (mean, std)}``; the std of a single run is 0.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("no runs to summarise")
    keys = list(keys) if keys is not None else list(runs[0])
    out = {}
    for k in keys:
        values = np.array([r[k] for r in runs], dtype=float)
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        out[k] = (float(values.mean()), std)
    return out


def format_summary(summary: Mapping[str, tuple[float, float]], digits: int = 3) -> dict:
    """``{metric: "0.712 ± 0.015"}`` for tables."""
    return {k: f"{m:.{digits}f} ± {s:.{digits}f}" for k, (m, s) in summary.items()}

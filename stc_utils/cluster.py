"""K-means over several seeds: the baseline every lesson compares against.

Taught in lesson 00 (quick tour); lesson 03 replaces the initialisation, lesson 04 the
representation. The number of clusters comes from the ground truth, nothing else does.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .metrics import evaluate, format_summary, summarize


def check_n_clusters(n_clusters: int, n_samples: int) -> int:
    """Refuse a number of clusters that cannot work, with a message saying why."""
    if int(n_clusters) != n_clusters or n_clusters < 1:
        raise ValueError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    if n_clusters > n_samples:
        raise ValueError(
            f"n_clusters={n_clusters} is larger than the number of texts ({n_samples}); "
            "use fewer clusters or more texts"
        )
    return int(n_clusters)


INITS = ("k-means++", "random", "cdp", "mdm")


def kmeans(x, n_clusters: int, seed: int = 0, n_init: int = 10, init="k-means++") -> np.ndarray:
    """scikit-learn K-means labels of ``x`` (dense or sparse) for one seed.

    ``init``: ``"k-means++"`` or ``"random"`` (scikit-learn, ``n_init`` restarts, the lowest
    inertia kept), ``"cdp"`` (lesson 03: the density step runs once, then ``n_init`` draws of
    the first centre, the lowest inertia kept), ``"mdm"`` (deterministic: one run whatever
    ``n_init``), or an array of initial centres (one run).
    """
    from sklearn.cluster import KMeans

    check_n_clusters(n_clusters, x.shape[0])
    if isinstance(init, str) and init not in INITS:
        raise ValueError(f"unknown init {init!r}; use one of {INITS} or an array of centres")
    if isinstance(init, str) and init in ("cdp", "mdm"):
        from . import cdp

        x = cdp.check_points(x, n_clusters)
        if init == "mdm":
            starts = [cdp.mdm_init(x, n_clusters)]
        else:
            rho = cdp.density(x)[0]
            starts = [cdp.cdp_init(x, n_clusters, seed=seed + i, rho=rho) for i in range(max(1, n_init))]
        fits = [KMeans(n_clusters, init=c, n_init=1, random_state=seed).fit(x) for c in starts]
        return min(fits, key=lambda m: m.inertia_).labels_
    if not isinstance(init, str):
        n_init = 1
    model = KMeans(n_clusters=n_clusters, n_init=n_init, init=init, random_state=seed)
    return model.fit_predict(x)


def kmeans_seeds(x, y_true, n_clusters: int | None = None, seeds=(0, 1, 2), n_init: int = 10,
                 init="k-means++") -> pd.DataFrame:
    """Run K-means once per seed and evaluate each run: one row per seed, plus ``seconds``."""
    y_true = np.asarray(y_true)
    if x.shape[0] != len(y_true):
        raise ValueError(f"{x.shape[0]} vectors but {len(y_true)} labels")
    k = n_clusters or len(np.unique(y_true))
    rows = []
    for seed in seeds:
        start = time.perf_counter()
        labels = kmeans(x, k, seed=seed, n_init=n_init, init=init)
        row = {"seed": seed, **evaluate(y_true, labels), "seconds": time.perf_counter() - start}
        rows.append(row)
    return pd.DataFrame(rows)


def summary_row(runs: pd.DataFrame, keys=("acc", "nmi", "ari")) -> dict:
    """``{"acc": "0.712 ± 0.015", ...}`` from the per-seed table of :func:`kmeans_seeds`."""
    return format_summary(summarize(runs.to_dict("records"), keys))

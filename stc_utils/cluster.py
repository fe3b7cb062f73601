"""K-means over several seeds: the baseline every lesson compares against; choosing K without labels.

Taught in lesson 00 (quick tour); lesson 03 replaces the initialisation, lesson 04 the
representation. The number of clusters comes from the ground truth, nothing else does,
except in :func:`choose_k` and :func:`umap_hdbscan` (lesson 07, "Choosing K without labels"),
which pick it from the vectors alone. :func:`n2d` (lesson 08d, "Clustering the manifold") clusters
UMAP's map of the vectors instead of the vectors; :func:`iterative_classification` (lesson 08e,
"Iterative classification on two views") then refines a clustering with classifiers.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from . import cdp
# the checks live in cdp (which imports nothing from here); other modules and tests import them from here
from .cdp import check_n_clusters, check_points  # noqa: F401
from .metrics import evaluate, format_summary, summarize


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
        x = check_points(x, n_clusters)
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
        rows.append({"seed": seed, **evaluate(y_true, labels), "seconds": time.perf_counter() - start})
    return pd.DataFrame(rows)


def summary_row(runs: pd.DataFrame, keys=("acc", "nmi", "ari")) -> dict:
    """``{"acc": "0.712 ± 0.015", ...}`` from the per-seed table of :func:`kmeans_seeds`."""
    return format_summary(summarize(runs.to_dict("records"), keys))


CRITERIA = ("silhouette", "calinski_harabasz", "davies_bouldin", "bic", "stability", "elbow")
_MINIMISE = ("davies_bouldin", "bic")
RECOMMENDED = "bic"  # lesson 07 grades every criterion on the four benchmarks (labels: grading only) and picks this one
BIC_MIN_TEXTS = 10_000  # lesson 07: BIC by corpus size; with 5,000 texts or fewer it chose at most 16 for 20 classes


def small_corpus_warning(n_texts: int, method: str = RECOMMENDED) -> str | None:
    """The warning ``--k auto`` prints when BIC chooses K from fewer than :data:`BIC_MIN_TEXTS` texts, else None.

    BIC's penalty grows with log n and its likelihood gain with n, so on a small corpus it picks
    few clusters (lesson 07 measures it on subsamples of three benchmarks: too few below 10,000 texts on
    the two 20-class ones; SearchSnippets, 8 classes, got 7 / 7 / 8 at 5,000 and too many at 10,000).
    """
    if method != "bic" or n_texts >= BIC_MIN_TEXTS:
        return None
    return (f"warning: BIC chose K from {n_texts:,} texts; below {BIC_MIN_TEXTS:,} texts it chose too few clusters "
            f"on the 20-class benchmarks in lesson 07's measurements (subsamples of StackOverflow and Biomedical; "
            f"on 8-class SearchSnippets it was right at 5,000): read the criterion table, or set --k")


def elbow_curve(k_values, inertia) -> np.ndarray:
    """Kneedle's difference curve (Satopää et al. 2011) of a decreasing inertia curve.

    Both axes are scaled to [0, 1]; the value at each K is how far the curve lies below the
    chord from its first to its last point. The elbow is its maximum (no smoothing).
    """
    k, w = np.asarray(k_values, float), np.asarray(inertia, float)
    k, w = (k - k.min()) / np.ptp(k), (w - w.min()) / max(np.ptp(w), 1e-12)
    return 1.0 - k - w


def best_k(table: pd.DataFrame, criterion: str) -> int:
    """The K a criterion picks from a :func:`choose_k` table (DB and BIC: lowest; others: highest).

    Ties (several K perfectly stable, say) go to the largest K: the finer partition is as good.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"unknown method {criterion!r}; known: {', '.join(CRITERIA)}")
    values = -table[criterion] if criterion in _MINIMISE else table[criterion]
    return int(values.index[values >= values.max() - 1e-9].max())


GRID_UP_TO = 60  # search="auto": every K up to this largest K (the default 2..40), coarse-to-fine above
COARSE = 8  # K values of the coarse pass, spaced geometrically


def _refine(ks: list[int], evaluate_at, pick) -> None:
    """Coarse-to-fine over the sorted ``ks``: ``COARSE`` values spaced geometrically (both ends
    included), then bisect towards the best one (``pick`` on what was evaluated) until its
    evaluated neighbours are its neighbours in ``ks``. ``evaluate_at(k)`` records one K."""
    at = {int(np.abs(np.asarray(ks) - t).argmin()) for t in np.geomspace(ks[0], ks[-1], COARSE)}
    done = set()
    while at - done:
        for i in sorted(at - done):
            evaluate_at(ks[i])
            done.add(i)
        best = ks.index(pick())
        left, right = [i for i in done if i < best], [i for i in done if i > best]
        if left and best - max(left) > 1:
            at.add((max(left) + best) // 2)
        if right and min(right) - best > 1:
            at.add((best + min(right)) // 2)


def choose_k(x, k_values, method: str = RECOMMENDED, seed: int = 0, criteria=CRITERIA, n_init: int = 3,
             sample: int = 5000, pairs: int = 5, pca_dim: int = 10, progress: bool = False,
             search: str = "auto", bic_tol: float | None = None):
    """Pick the number of clusters without labels: ``(chosen K, table)``, one table row per K visited.

    For each K: K-means (``n_init`` starts) on all points gives the ``inertia``, the
    ``elbow`` (:func:`elbow_curve`), ``calinski_harabasz`` and ``davies_bouldin``, and the
    cosine ``silhouette`` on a seeded subsample of ``sample`` points (it needs all n² distances:
    5,000 points keep it near a second per K on one core). ``bic``: a full-covariance Gaussian
    mixture on the first ``pca_dim`` principal components of all points. ``stability`` (Lange
    et al. 2004): ``pairs`` times, split the subsample into two random halves, fit K-means (one
    start) on each, predict both onto the whole subsample and take the ARI of the two
    labellings; the mean is reported. ``criteria`` limits what is computed (``method`` always
    is); ``method`` picks the K (:func:`best_k`). The ``… s`` columns give each criterion's
    seconds per K (``kmeans s``: the fit shared by the first four); ``progress``: a bar over K.

    ``search``: ``"grid"`` visits every K (the table has one row per K); ``"refine"`` visits
    8 K spaced geometrically, then bisects towards the best one by ``method`` (it assumes the
    criterion has no second, better optimum hidden between two coarse points); ``"auto"``:
    the grid when the largest K is at most 60 (the default 2..40 is unchanged), refine above.
    ``bic_tol``: the mixture's convergence tolerance (scikit-learn's ``tol``, the change of the
    mean log-likelihood per text); ``None``: 1e-3 (scikit-learn's default) for the grid, 1e-2
    for refine. Why both: a mixture fit grows with K and with its iterations (11,000 MiniLM
    vectors, 10-d: K = 300 took 54 iterations, 77-99 s at 1e-3, 14 iterations, 29 s at 1e-2;
    the looser tolerance moved the BIC by 1.3k-2.8k at K = 100-300, where K and K + 10 differ
    by ~5k; these timings predate the one-thread fits of :func:`_one_thread`). ``benchmarks/choose_k_speed.py --wide`` measures K = 50..300 (step 10): refine at
    1e-2 fits 8 K in 26 s, the old full grid at 1e-3 fits 26 K in 313 s, same pick.
    ValueError on fewer than 3 texts, NaN, a K outside 2..n-1, fewer than two
    different K, an unknown name or search.
    """
    from tqdm.auto import tqdm
    from sklearn import metrics as skm
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    criteria = tuple(dict.fromkeys(tuple(criteria) + (method,)))
    for c in criteria:
        best_k(pd.DataFrame({c: [0.0]}), c)  # raises on an unknown name
    if search not in ("auto", "grid", "refine"):
        raise ValueError(f"unknown search {search!r}; use 'auto', 'grid' or 'refine'")
    x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32)
    n = x.shape[0]
    if x.ndim != 2 or n < 3:
        raise ValueError(f"choose_k needs a 2-D array of at least 3 texts, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"x contains NaN or infinite values (first bad row: {np.flatnonzero(~np.isfinite(x).all(1))[0]})")
    ks = sorted({check_n_clusters(k, 10**12) for k in k_values})
    if ks[0] < 2 or ks[-1] > n - 1:
        raise ValueError(f"every K must lie in 2..n-1 = 2..{n - 1} for {n} texts (the silhouette is "
                         f"undefined outside), got K from {ks[0]} to {ks[-1]}")
    if len(ks) < 2:
        raise ValueError(f"k_values must hold at least two different K to choose from, got {list(k_values)}")
    if search == "auto":
        search = "grid" if ks[-1] <= GRID_UP_TO else "refine"
    if bic_tol is None:
        bic_tol = 1e-3 if search == "grid" else 1e-2
    rng = np.random.default_rng(seed)
    sub = rng.choice(n, sample, replace=False) if n > sample else np.arange(n)
    halves = [np.array_split(rng.permutation(sub), 2) for _ in range(pairs)]
    z = PCA(min(pca_dim, x.shape[1], n), random_state=seed).fit_transform(x) if "bic" in criteria else None
    fit_needed = {"silhouette", "calinski_harabasz", "davies_bouldin", "elbow"} & set(criteria)
    rows = {}
    bar = tqdm(total=len(ks), desc=f"choose K ({method})", disable=not progress)

    def evaluate_at(k: int) -> None:
        row, t = {"k": k}, time.perf_counter()
        if fit_needed:
            km = KMeans(k, n_init=n_init, random_state=seed).fit(x)
            row["inertia"], row["kmeans s"], labels = km.inertia_, time.perf_counter() - t, km.labels_
        for name, score in [("silhouette", lambda: skm.silhouette_score(x[sub], labels[sub], metric="cosine")),
                            ("calinski_harabasz", lambda: skm.calinski_harabasz_score(x, labels)),
                            ("davies_bouldin", lambda: skm.davies_bouldin_score(x, labels)),
                            ("bic", lambda: _one_thread(lambda: GaussianMixture(k, random_state=seed, tol=bic_tol).fit(z).bic(z))),
                            ("stability", lambda: np.mean([skm.adjusted_rand_score(
                                *(KMeans(k, n_init=1, random_state=seed + i).fit(x[h]).predict(x[sub]) for h in pair))
                                for i, pair in enumerate(halves)]) if k <= len(sub) // 2 else np.nan)]:
            if name in criteria:
                t = time.perf_counter()
                row[name], row[f"{name} s"] = float(score()), time.perf_counter() - t
        rows[k] = row
        bar.update()

    def table() -> pd.DataFrame:
        out = pd.DataFrame([rows[k] for k in sorted(rows)]).set_index("k")
        if "elbow" in criteria:
            out.insert(out.columns.get_loc("inertia") + 1, "elbow", elbow_curve(out.index, out["inertia"]))
        return out

    if search == "grid":
        for k in ks:
            evaluate_at(k)
    else:
        _refine(ks, evaluate_at, lambda: best_k(table(), method))
    bar.total = bar.n
    bar.close()
    result = table()
    return best_k(result, method), result


def _one_thread(fit):
    """``fit()`` with one BLAS/OpenMP thread. A 10-d mixture's matrices are tiny: threads only add overhead
    (BIC at K = 2..40 on 10,000 texts: 99 s at 2 threads, 30 s at 1) and one thread makes the BIC the
    same whatever ``OMP_NUM_THREADS`` says."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return fit()


def umap_embed(x, n_components: int, seed: int = 0, n_neighbors: int = 15, metric: str = "cosine") -> np.ndarray:
    """UMAP (``min_dist=0``: points may pile up, which suits clustering) of ``x`` to ``n_components``.

    Seeded, so UMAP runs on one thread; its spectral start runs on one BLAS thread too, without
    which the same seed gives another map under another ``OMP_NUM_THREADS``. ``n_neighbors`` is
    capped at n - 1 for tiny inputs.
    """
    import umap

    x = np.asarray(x, dtype=np.float32)
    reducer = umap.UMAP(n_neighbors=min(n_neighbors, len(x) - 1), n_components=n_components, min_dist=0.0,
                        metric=metric, random_state=seed, n_jobs=1)
    return _one_thread(lambda: reducer.fit_transform(x))


def umap_hdbscan(x, seed: int = 0, n_neighbors: int = 15, n_components: int = 5, min_cluster_size: int = 10):
    """The BERTopic way to find K: UMAP (cosine, ``min_dist=0``) to 5-d, then HDBSCAN ("eom" selection).

    Defaults are BERTopic's (``min_topic_size=10``). Returns ``(labels, info)``: label -1 marks
    an outlier; ``info`` holds the number of clusters found, the outlier share and the seconds.
    """
    from sklearn.cluster import HDBSCAN

    t = time.perf_counter()
    z = umap_embed(x, n_components, seed=seed, n_neighbors=n_neighbors)
    labels = HDBSCAN(min_cluster_size=min_cluster_size, metric="euclidean", cluster_selection_method="eom",
                     copy=True).fit_predict(z)
    return labels, {"k": int(labels.max() + 1), "outliers": float(np.mean(labels < 0)),
                    "seconds": time.perf_counter() - t}


# N2D's own settings (McConville et al. 2020, rymc/n2d run.sh and n2d.py): UMAP to K dimensions, 20 neighbours,
# min_dist 0, Euclidean; a Gaussian mixture with full covariances, one start. Fixed before any score was read.
N2D_SETTINGS = {"n_neighbors": 20, "n_components": "K", "min_dist": 0.0, "metric": "euclidean",
                "covariance_type": "full", "n_init": 1}


def n2d(x, n_clusters: int, seed: int = 0, mixture: bool = True):
    """N2D, "(Not Too) Deep" clustering: a Gaussian mixture on UMAP's K-d map of ``x`` (:data:`N2D_SETTINGS`).

    Returns ``(labels, z, seconds)``: the mixture's most probable component per text (None when
    ``mixture`` is False: the map only, for K-means on it), the map, and the seconds of both steps.
    Same seed, same labels, whatever the thread count (:func:`umap_embed`).
    """
    from sklearn.mixture import GaussianMixture

    x = check_points(x, n_clusters)
    distinct = len(np.unique(x, axis=0))
    if len(x) < n_clusters + 2 or distinct < n_clusters:
        raise ValueError(f"n2d maps {len(x)} points ({distinct} distinct) to {n_clusters} dimensions: it needs at least "
                         f"{n_clusters + 2} points and {n_clusters} distinct ones; use fewer clusters or more texts")
    t, s = time.perf_counter(), N2D_SETTINGS
    z = umap_embed(x, n_clusters, seed=seed, n_neighbors=s["n_neighbors"], metric=s["metric"])
    gmm = GaussianMixture(n_clusters, covariance_type=s["covariance_type"], n_init=s["n_init"], random_state=seed)
    labels = _one_thread(lambda: gmm.fit(z).predict(z)) if mixture else None
    return labels, z, time.perf_counter() - t


# Lesson 08e: iterative classification (Rakib et al. 2020; Pugachev & Burtsev 2021) started from K-means on
# N2D's map, its classifiers on two views. The views and the start were chosen by ACC on seed 0 of the three
# benchmarks (the lesson shows the one-view runs, and the other start over five seeds); the rest was set once.
IC_SETTINGS = {"start": "K-means (10 starts) on N2D's map", "views": "TF-IDF (words, min_df 2) and MiniLM",
               "classifier": "logistic regression per view (C 1), the mean of their probabilities",
               "outliers": "isolation forest per cluster, on MiniLM", "sample": [0.6, 0.9],
               "cap": "mean cluster size", "tol": 0.005, "max_rounds": 30}
# Lesson 08e, section 7: n2d_hybrid_ic starts from K-means on N2D's map of MiniLM beside the words (embed.hybrid),
# a start chosen by ACC on the runner's seed 0 (bf16 vectors) among four; the rounds as IC_SETTINGS.
HYBRID_INPUT = "MiniLM beside TF-IDF + LSA (100-d), equal weight (embed.hybrid)"


def ic_train_split(labels, outliers, rng, sample=(0.6, 0.9), contamination="auto") -> np.ndarray:
    """The texts one round of :func:`iterative_classification` trains on (indices, cluster by cluster).

    Per cluster an isolation forest on ``outliers`` drops the outliers; a random share ``sample``
    of the inliers, at most the mean cluster size, is kept (a cluster under 5 texts trains whole).
    ``rng``: a NumPy Generator, advanced as the round's draws require.
    """
    from sklearn.ensemble import IsolationForest

    sizes = np.bincount(labels)
    cap, train = int(sizes[sizes > 0].mean()), []
    for c in np.flatnonzero(sizes):
        idx = np.flatnonzero(labels == c)
        if len(idx) >= 5:  # too few to tell outliers: all of a tiny cluster trains
            forest = IsolationForest(contamination=contamination, random_state=int(rng.integers(2 ** 31)))
            forest.fit(outliers[idx])
            idx = idx[forest.predict(outliers[idx]) == 1]
            idx = rng.choice(idx, min(int(rng.uniform(*sample) * len(idx)), cap), replace=False)
        train.append(idx)
    return np.concatenate(train)


def iterative_classification(views, start, outliers, seed: int = 0, max_rounds: int = 30, tol: float = 0.005,
                             sample=(0.6, 0.9), contamination="auto", on_round=None):
    """Refine the clustering ``start`` by classifying each text from the others, round after round.

    Each round: an isolation forest drops each cluster's outliers (in ``outliers``, e.g. the MiniLM
    vectors; ``contamination`` as in scikit-learn: "auto" drops a text when its anomaly score passes
    0.5, which on MiniLM's vectors dropped 0 / 66 / 9 of 12,340 / 20,000 / 20,000 texts at lesson
    08e's starts; 0.1 drops a tenth); a random share ``sample`` (uniform) of each cluster's inliers,
    at most the mean cluster size so that big clusters do not swamp small ones, trains one logistic
    regression per view in
    ``views`` (dense or sparse, one row per text); the other texts take the class of the mean of
    the views' probabilities. Stops, without labels, when under ``tol`` of the texts change, or after
    ``max_rounds``. One BLAS thread (same seed, same labels). ``on_round(round, labels, changed)``
    is called after each round. Returns ``(labels, changed per round)``.
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    labels = np.asarray(start).copy()
    n = len(labels)
    if any(v.shape[0] != n for v in (*views, outliers)) or not views:
        raise ValueError(f"iterative_classification needs one row per text in every view and in outliers "
                         f"({n} texts in start; views {[v.shape[0] for v in views]}, outliers {outliers.shape[0]})")
    if labels.ndim != 1 or labels.min(initial=0) < 0 or len(np.unique(labels)) < 2:
        raise ValueError("start must give every text a cluster number >= 0, with at least two clusters")
    rng, history = np.random.default_rng(seed), []
    for _ in range(max_rounds):
        train = ic_train_split(labels, outliers, rng, sample, contamination)
        rest = np.setdiff1d(np.arange(n), train)
        if len(np.unique(labels[train])) < 2 or not len(rest):
            break
        with threadpool_limits(1):
            fits = [LogisticRegression(max_iter=300).fit(v[train], labels[train]) for v in views]
            proba = sum(f.predict_proba(v[rest]) for f, v in zip(fits, views))
        new = labels.copy()
        new[rest] = fits[0].classes_[proba.argmax(1)]
        history.append(float((new != labels).mean()))
        labels = new
        if on_round is not None:
            on_round(len(history), labels, history[-1])
        if history[-1] < tol:
            break
    return labels, history


def confidence(x, labels, seed: int = 0, refits: int = 5) -> np.ndarray:
    """How surely each text belongs to its cluster, without labels: a probability in (1/K, 1].

    ``q = softmax_j(-||x - c_j||² / T)`` over the cluster means ``c_j``, the entry of the text's
    own cluster. The temperature T is fitted to the clustering's own instability: K-means (one
    random start) is refitted on ``refits`` random halves of the texts, each refit's clusters
    matched to ``labels`` (Hungarian) and used to assign every text; T minimises the log-loss of
    q against those assignments. Lesson 01's Student-t q (alpha = 1) cannot do this in 384-d:
    at best q ∝ 1/d², which stays near 1/K (this kernel is its alpha -> infinity limit).
    """
    import warnings

    from scipy.optimize import linear_sum_assignment, minimize_scalar
    from scipy.spatial.distance import cdist
    from scipy.special import log_softmax
    from sklearn.cluster import KMeans

    x, labels = np.asarray(x, dtype=np.float64), np.unique(labels, return_inverse=True)[1]  # DEC may leave one empty
    k, rows, rng = int(labels.max()) + 1, np.arange(len(labels)), np.random.default_rng(seed)
    d2 = cdist(x, np.stack([x[labels == j].mean(0) for j in range(k)]), "sqeuclidean")
    votes = []
    for i in range(refits):
        half = rng.choice(len(x), max(len(x) // 2, min(len(x), 2 * k)), replace=False)
        with warnings.catch_warnings():  # a half with fewer distinct texts than K: a poorer refit, not an error
            warnings.simplefilter("ignore")
            pred = KMeans(k, n_init=1, random_state=seed + i).fit(x[half]).predict(x)
        overlap = np.zeros((k, k))
        np.add.at(overlap, (pred, labels), 1)
        votes.append(linear_sum_assignment(-overlap)[1][pred])
    scale = np.median(d2) + 1e-12
    loss = lambda log_t: -np.mean([log_softmax(-d2 / np.exp(log_t), 1)[rows, v].mean() for v in votes])
    t = np.exp(minimize_scalar(loss, bounds=np.log([1e-4 * scale, 1e2 * scale]), method="bounded").x)
    return np.exp(log_softmax(-d2 / t, 1)[rows, labels])

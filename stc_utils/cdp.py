"""CDP: a density-and-partition initialisation of K-means, and the maximum-distance method.

Taught in lesson 03. CDP (Liu Long, Liu Xin, Cai Linjie, Tang Chao, Xiangtan University:
"a text clustering algorithm combining density and partition") picks the initial K-means
centres among the *dense* points with a maximum-distance rule; MDM (Zhai Haidong et al. 2014,
Application Research of Computers) applies the same rule to all points and so tends to start
from outliers.

- :func:`density`  d_c = mean pairwise distance, rho_i = #{j != i : d_ij < d_c}, exact and in
  blocks (never the n x n matrix), or estimated against a random reference subset
- :func:`core_set`  M = {i : rho_i > mean(rho)}
- :func:`cdp_init`, :func:`mdm_init`  the centres, shape (k, d)
- :func:`cdp_kmeans`  CDP centres + Lloyd's iterations (``cluster.kmeans`` with those centres)

Product rule: c_k maximises prod_{l<k} d(c_l, i), computed as a sum of logs. A candidate at
distance 0 from a chosen centre gets log 0 = -inf and is never chosen (it *is* that centre);
if no candidate at a positive distance is left, there are fewer distinct points than
clusters and a clear error says so.
"""

from __future__ import annotations

import numpy as np

# torch is imported inside the functions that use it: ``import stc_utils.cluster`` (which
# imports this module for its checks) stays as light as before.


class CoreSetTooSmallError(ValueError):
    """The core set M of dense points has no more than K points (the paper needs K < |M|)."""


def check_n_clusters(n_clusters: int, n_samples: int) -> int:
    """Refuse a number of clusters that cannot work, with a message saying why.

    Lives here, the lowest module that needs it, so that :mod:`stc_utils.cluster` imports this
    module and not the other way round (``from stc_utils.cluster import check_n_clusters``
    still works: cluster re-exports it).
    """
    if int(n_clusters) != n_clusters or n_clusters < 1:
        raise ValueError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    if n_clusters > n_samples:
        raise ValueError(
            f"n_clusters={n_clusters} is larger than the number of texts ({n_samples}); "
            "use fewer clusters or more texts")
    return int(n_clusters)


def check_points(x, n_clusters: int | None = None) -> np.ndarray:
    """A finite 2-D float32 array with more points than clusters, or a clear ValueError."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array (n_points, n_features); got shape {x.shape}")
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"x needs at least 2 points and 1 feature; got shape {x.shape}")
    x = x.astype(np.float32, copy=False)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"x has {bad.sum()} rows with NaN or infinite values (first: {rows[:5].tolist()})")
    if n_clusters is not None:
        check_n_clusters(n_clusters, x.shape[0])
        if n_clusters >= x.shape[0]:
            raise ValueError(f"n_clusters={n_clusters} must be smaller than the number of points ({x.shape[0]})")
    return x


STRIP = 2**25  # distances per block of rows (128 MB of float32) as long as one row fits


def _blocks(x, ref, block: int):
    """Yield (first row, end row, squared distances) of x's rows against ``ref``, or, with
    ``ref`` None, against the rows j >= the block's first row: the upper triangle plus the
    diagonal block. A pair in two different blocks is computed once; a pair inside one block
    twice (i, j and j, i) and each self-pair once: n * block extra distances, under
    block / n of the total.

    At most ``block`` rows at a time and at most ``STRIP`` distances per strip: the rows per
    block drop to 2^25 // n (down to one row), so the promise holds up to 2^25 columns.
    """
    import torch

    sq_x = (x * x).sum(1)
    sq_r = sq_x if ref is None else (ref * ref).sum(1)
    block = max(1, min(block, STRIP // len(sq_r)))
    for i0 in range(0, len(x), block):
        i1 = min(i0 + block, len(x))
        cols = ref if ref is not None else x[i0:]
        d2 = torch.addmm((sq_r if ref is not None else sq_r[i0:])[None, :], x[i0:i1], cols.T,
                         beta=1.0, alpha=-2.0)
        d2.add_(sq_x[i0:i1, None]).clamp_(min=0.0)
        yield i0, i1, d2


def density(x, block: int = 1024, n_reference: int | None = None, seed: int = 0) -> tuple[np.ndarray, float]:
    """Local densities ``rho`` (n,) and the cut-off distance ``d_c`` (the mean pairwise distance).

    Exact by default: two passes over blocks of the distance matrix (the sum of distances,
    then the counts below d_c), each pair computed once (twice inside a diagonal block, see
    :func:`_blocks`), memory O(min(block * n, 2^25)). With
    ``n_reference=m`` both are estimated against m random points instead (O(n m): the way to go
    at a million texts); ``rho`` is then rescaled to the n - 1 other points.

    Speed of the estimate (issue 19: m = 500 was only ~4x faster than exact on 20,000 x 384
    in lesson 03, for ~20x less work). A profile of ``density(x, n_reference=500)`` on 20,000
    MiniLM vectors, one thread: 80 % of the time in the matrix products (torch.addmm), the
    rest in sqrt / sums / comparisons; checks, centring and sampling ~2 %. No fixed overhead
    to remove: at one thread exact / m = 500 measured 34.9 s / 1.8 s (~20x, the work ratio).
    The gap comes from threads: the exact strips (1,024 x n) are large products that use a
    second thread (34.9 -> 19.9 s), the estimate's strips (1,024 x m) are small and do not
    (1.8 -> 2.2 s on a machine at load 4), so at two threads the ratio falls to ~9x, and to
    ~4x on a busier machine. Larger strips for the estimate (2^25 / m rows) gave no gain
    beyond the noise of a shared machine.
    """
    import torch

    x = check_points(x)
    n = len(x)
    xt = torch.from_numpy(x - x.mean(0, dtype=np.float64).astype(np.float32))  # centred: less cancellation
    if n_reference is not None and n_reference < n:
        picked = np.sort(np.random.default_rng(seed).choice(n, n_reference, replace=False))
        ref = xt[picked]
        total = sum(float(d2.sqrt_().sum(1).double().sum()) for _, _, d2 in _blocks(xt, ref, block))
        d_c = total / (n * n_reference - n_reference)  # the m self-pairs are zeros
        rho = np.concatenate([(d2 < d_c * d_c).sum(1).numpy() for _, _, d2 in _blocks(xt, ref, block)])
        is_ref = np.isin(np.arange(n), picked)
        rho = (rho - is_ref) * (n - 1) / (n_reference - is_ref)  # a reference point is not its own neighbour
        return rho, d_c
    total = 0.0
    for i0, i1, d2 in _blocks(xt, None, block):
        d = d2.sqrt_()
        d[:, : i1 - i0].fill_diagonal_(0.0)
        total += 2.0 * float(d[:, i1 - i0 :].sum(1).double().sum()) + float(d[:, : i1 - i0].sum(1).double().sum())
    d_c = total / (n * (n - 1))
    rho = torch.zeros(n, dtype=torch.int64)
    for i0, i1, d2 in _blocks(xt, None, block):
        d2[:, : i1 - i0].fill_diagonal_(float("inf"))  # j != i
        close = d2 < d_c * d_c
        rho[i0:i1] += close.sum(1)
        rho[i1:] += close[:, i1 - i0 :].sum(0)
    return rho.numpy(), float(d_c)


def core_set(x, rho=None, **density_kwargs) -> np.ndarray:
    """Indices of the dense points, M = {i : rho_i > mean(rho)} (rho computed when not given)."""
    if rho is None:
        rho, d_c = density(x, **density_kwargs)
        if d_c == 0.0:
            raise ValueError("all points are identical (the mean pairwise distance is 0): nothing to cluster")
    rho = np.asarray(rho)
    return np.flatnonzero(rho > rho.mean())


def _product_rule(x: np.ndarray, candidates: np.ndarray, chosen: list[int], n_clusters: int,
                  chunk: int = 2**22) -> list[int]:
    """Add centres from ``candidates``, each maximising the sum of log distances to those chosen.

    The distances are float32, computed ``chunk // d`` candidate rows at a time (no copy of
    the candidates, no n x d temporary); only the running sum of logs is float64 (n numbers).
    """
    import torch

    xt = torch.from_numpy(x)
    cand = torch.from_numpy(np.asarray(candidates, dtype=np.int64))
    rows = max(1, chunk // max(1, x.shape[1]))
    log_sum = torch.zeros(len(cand), dtype=torch.float64)

    def add(c: int) -> None:
        centre = xt[c]
        for i0 in range(0, len(cand), rows):
            d = (xt[cand[i0:i0 + rows]] - centre).norm(dim=1)
            log_sum[i0:i0 + rows] += torch.log(d)

    chosen = list(chosen)
    for c in chosen:
        add(c)
    while len(chosen) < n_clusters:
        best = int(torch.argmax(log_sum))
        if not torch.isfinite(log_sum[best]):
            raise ValueError(
                f"only {len(chosen)} distinct points among the {len(candidates)} candidates, "
                f"fewer than n_clusters={n_clusters} (duplicate points)")
        chosen.append(int(candidates[best]))
        add(chosen[-1])
    return chosen


def cdp_init(x, n_clusters: int, seed: int = 0, rho=None, return_indices: bool = False):
    """CDP centres (k, d): c_1 drawn at random (``seed``) from the core set M, then the product
    rule over M. ``rho`` skips the density step (it does not depend on the seed)."""
    x = check_points(x, n_clusters)
    if rho is not None and len(rho) != len(x):
        raise ValueError(f"rho has {len(rho)} densities for {len(x)} points: pass the rho that "
                         "density() returned for these same points")
    members = core_set(x, rho)
    if len(members) <= n_clusters:
        raise CoreSetTooSmallError(
            f"the core set has {len(members)} dense points, not more than n_clusters={n_clusters}: "
            "CDP cannot choose distinct dense centres; use fewer clusters, more texts, or mdm_init / k-means++")
    first = int(np.random.default_rng(seed).choice(members))
    idx = _product_rule(x, members, [first], n_clusters)
    return (x[idx], np.array(idx)) if return_indices else x[idx]


def farthest_pair(x, block: int = 1024) -> tuple[int, int]:
    """The two points at the largest Euclidean distance, in blocks."""
    import torch

    xt = torch.from_numpy(check_points(x))
    best, pair = -1.0, (0, 1)
    for i0, _, d2 in _blocks(xt, None, block):
        value, flat = d2.flatten().max(0)
        if float(value) > best:
            best, pair = float(value), (i0 + int(flat) // d2.shape[1], i0 + int(flat) % d2.shape[1])
    return pair


def mdm_init(x, n_clusters: int, return_indices: bool = False):
    """Maximum-distance-method centres (k, d): the farthest pair, then the product rule over all points."""
    x = check_points(x, n_clusters)
    a, b = farthest_pair(x)
    if a == b or not np.any(x[a] != x[b]):
        raise ValueError("all points are identical (the largest pairwise distance is 0): nothing to cluster")
    idx = _product_rule(x, np.arange(len(x)), [a, b], n_clusters) if n_clusters > 2 else [a, b][:n_clusters]
    return (x[idx], np.array(idx)) if return_indices else x[idx]


def cdp_kmeans(x, n_clusters: int, seed: int = 0, rho=None) -> np.ndarray:
    """Labels of K-means started from the CDP centres (the whole CDP algorithm): Lloyd's
    iterations until the centres stop moving (scikit-learn ``KMeans``, one initialisation)."""
    from sklearn.cluster import KMeans

    x = check_points(x, n_clusters)
    centres = cdp_init(x, n_clusters, seed=seed, rho=rho)
    return KMeans(n_clusters, init=centres, n_init=1, random_state=seed).fit_predict(x)

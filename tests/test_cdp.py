"""CDP and MDM initialisation (lesson 03): exact density against brute force, the product rule,
the K-means integration, and every bad input."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from stc_utils import cdp
from stc_utils.cluster import kmeans


def _blobs(n_per=40, outliers=0, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [6, 0], [0, 6], [6, 6]], dtype=float)
    y = np.repeat(np.arange(4), n_per)
    x = centres[y] + rng.normal(0, 0.5, (len(y), 2))
    if outliers:
        x = np.vstack([x, rng.uniform(-40, 40, (outliers, 2))])
        y = np.concatenate([y, -np.ones(outliers, int)])
    return x.astype(np.float32), y


def _brute_density(x):
    d = squareform(pdist(x.astype(np.float64)))
    n = len(x)
    d_c = d.sum() / (n * (n - 1))
    return (d < d_c).sum(1) - 1, d_c  # minus the point itself (d_ii = 0)


@pytest.mark.parametrize("block", [7, 64, 4096])
def test_density_is_exact_whatever_the_block(block):
    x = np.random.default_rng(1).normal(size=(301, 6)).astype(np.float32)
    rho, d_c = cdp.density(x, block=block)
    rho_bf, d_c_bf = _brute_density(x)
    assert d_c == pytest.approx(d_c_bf, rel=1e-6)
    assert np.array_equal(rho, rho_bf)


def test_density_with_duplicates_counts_zero_distances():
    x, _ = _blobs()
    x = np.vstack([x, x[:10]])  # ten exact duplicates
    rho, d_c = cdp.density(x, block=50)
    rho_bf, d_c_bf = _brute_density(x)
    assert d_c == pytest.approx(d_c_bf, rel=1e-6) and np.array_equal(rho, rho_bf)


def test_reference_estimate_is_close_to_the_exact_density():
    x, _ = _blobs(n_per=200)
    rho, d_c = cdp.density(x)
    est, d_c_est = cdp.density(x, n_reference=600, seed=0)
    assert abs(d_c_est - d_c) / d_c < 0.05
    assert np.corrcoef(rho, est)[0, 1] > 0.98
    exact, approx = set(cdp.core_set(x, rho)), set(cdp.core_set(x, est))
    assert len(exact & approx) / len(exact | approx) > 0.9


def test_product_rule_follows_the_paper():
    x, _ = _blobs()
    centres, idx = cdp.cdp_init(x, 4, seed=3, return_indices=True)
    members = cdp.core_set(x)
    assert set(idx) <= set(members) and len(set(idx)) == 4
    assert np.array_equal(centres, x[idx])
    d = squareform(pdist(x.astype(np.float64)))
    assert idx[1] == members[np.argmax(d[idx[0], members])]  # c2: farthest from c1 within M
    with np.errstate(divide="ignore"):  # log 0 = -inf for the chosen centres themselves
        logs = np.log(d[idx[0], members]) + np.log(d[idx[1], members])
    assert idx[2] == members[np.argmax(logs)]  # c3: largest product of distances


def test_seed_changes_only_the_first_centre_and_is_reproducible():
    x, _ = _blobs()
    a = cdp.cdp_init(x, 4, seed=0, return_indices=True)[1]
    assert np.array_equal(a, cdp.cdp_init(x, 4, seed=0, return_indices=True)[1])
    firsts = {cdp.cdp_init(x, 4, seed=s, return_indices=True)[1][0] for s in range(10)}
    assert len(firsts) > 1


def test_mdm_starts_from_outliers_and_cdp_does_not():
    x, y = _blobs(outliers=5)
    mdm_idx = cdp.mdm_init(x, 4, return_indices=True)[1]
    cdp_idx = cdp.cdp_init(x, 4, seed=0, return_indices=True)[1]
    assert (y[mdm_idx[:2]] == -1).all()  # the farthest pair is two outliers
    assert (y[cdp_idx] >= 0).all() and len(set(y[cdp_idx])) == 4  # one dense centre per blob


def test_cdp_kmeans_recovers_separated_blobs_and_matches_cluster_kmeans():
    x, y = _blobs()
    labels = cdp.cdp_kmeans(x, 4, seed=0)
    from stc_utils.metrics import cluster_accuracy

    assert cluster_accuracy(y, labels) == 1.0
    assert np.array_equal(labels, kmeans(x, 4, seed=0, n_init=1, init="cdp"))
    assert cluster_accuracy(y, kmeans(x, 4, init="mdm")) == 1.0


def test_kmeans_rejects_an_unknown_init():
    x, _ = _blobs()
    with pytest.raises(ValueError, match="unknown init 'density'"):
        kmeans(x, 4, init="density")


def test_core_set_too_small_is_a_clear_error():
    x, _ = _blobs(n_per=5)  # 20 points: the core set holds about half of them
    members = cdp.core_set(x)
    with pytest.raises(cdp.CoreSetTooSmallError, match=f"core set has {len(members)} dense points"):
        cdp.cdp_init(x, len(members), seed=0)


def test_all_duplicate_corpus_is_refused():
    x = np.ones((30, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="all points are identical"):
        cdp.cdp_init(x, 3)
    with pytest.raises(ValueError, match="all points are identical"):
        cdp.mdm_init(x, 3)


def test_fewer_distinct_points_than_clusters():
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32), 10, axis=0)
    with pytest.raises(ValueError, match="only 3 distinct points"):
        cdp.mdm_init(x, 4)


@pytest.mark.parametrize("bad, message", [
    (np.arange(10.0), "2-D array"),
    (np.array([[1.0, np.nan], [0.0, 1.0], [2.0, 2.0]]), "NaN or infinite"),
    (np.array([[1.0, np.inf], [0.0, 1.0], [2.0, 2.0]]), "NaN or infinite"),
])
def test_bad_arrays(bad, message):
    with pytest.raises(ValueError, match=message):
        cdp.density(bad)
    with pytest.raises(ValueError, match=message):
        cdp.cdp_kmeans(bad, 2)


def test_n_not_larger_than_k():
    x, _ = _blobs(n_per=2)
    with pytest.raises(ValueError, match="larger than the number of texts"):
        cdp.cdp_init(x, 9)
    with pytest.raises(ValueError, match="must be smaller than the number of points"):
        cdp.mdm_init(x, 8)


def _product_rule_float64(x, candidates, chosen, n_clusters):
    """The implementation before issue 19 (float64 copy of the candidates), kept as the reference."""
    cand = x[candidates].astype(np.float64)
    log_sum = np.zeros(len(cand))
    chosen = list(chosen)
    with np.errstate(divide="ignore"):
        for c in chosen:
            log_sum += np.log(np.linalg.norm(cand - x[c].astype(np.float64), axis=1))
        while len(chosen) < n_clusters:
            best = int(np.argmax(log_sum))
            chosen.append(int(candidates[best]))
            log_sum += np.log(np.linalg.norm(cand - cand[best], axis=1))
    return chosen


@pytest.mark.parametrize("chunk", [50, 1000, 2**22])
def test_float32_chunked_product_rule_matches_the_float64_one(chunk):
    x = np.random.default_rng(5).normal(size=(700, 12)).astype(np.float32)
    candidates = np.sort(np.random.default_rng(6).choice(700, 400, replace=False))
    for chosen in ([int(candidates[0])], [3, 500]):
        expected = _product_rule_float64(x, candidates, chosen, 15)
        assert cdp._product_rule(x, candidates, chosen, 15, chunk=chunk) == expected
    assert cdp._product_rule(x, np.arange(700), [0, 1], 20, chunk=chunk) == \
        _product_rule_float64(x, np.arange(700), [0, 1], 20)


def test_cdp_init_refuses_rho_of_another_length():
    x, _ = _blobs()
    rho = cdp.density(x)[0]
    with pytest.raises(ValueError, match=f"rho has {len(x) - 1} densities for {len(x)} points"):
        cdp.cdp_init(x, 4, rho=rho[:-1])


def test_strips_stay_under_2_25_distances_past_524k_rows(monkeypatch):
    import torch

    monkeypatch.setattr(cdp, "STRIP", 2**12)  # the same arithmetic, scaled down: 4,096 distances
    x = torch.zeros((600, 2))
    strips = [d2.shape for _, _, d2 in cdp._blocks(x, None, 1024)]
    assert max(r * c for r, c in strips) <= 2**12 and sum(r for r, _ in strips) == 600
    strips = [d2.shape for _, _, d2 in cdp._blocks(torch.zeros((5000, 2)), x[:10], 1024)]
    assert max(r * c for r, c in strips) <= 2**12
    # past STRIP / 64 columns the old floor of 64 rows broke the promise; one row per strip now
    big = [d2.shape for _, _, d2 in cdp._blocks(torch.zeros((3000, 2)), None, 1024)]
    assert big[0] == (1, 3000) and max(r * c for r, c in big) <= 3000


def test_cdp_does_not_import_cluster_and_cluster_reexports_the_checks():
    import ast
    import inspect

    from stc_utils import cluster

    tree = ast.parse(inspect.getsource(cdp))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(m and m.endswith("cluster") and not m.startswith("sklearn") for m in imported), imported
    assert cluster.check_n_clusters is cdp.check_n_clusters and cluster.check_points is cdp.check_points

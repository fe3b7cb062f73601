"""Lesson 08d: N2D (a Gaussian mixture on UMAP's K-d map), in the package, the runner and ``cluster``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from stc_utils import runner
from stc_utils.cluster import N2D_SETTINGS, n2d
from stc_utils.data import load_dataset
from stc_utils.metrics import ari


def _blobs(k=4, n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    return (rng.normal(0, 6, (k, 16))[y] + rng.normal(0, 1, (n, 16))).astype(np.float32), y


def test_n2d_is_umap_then_a_full_mixture_and_repeats_whatever_the_threads():
    import umap
    from sklearn.mixture import GaussianMixture

    x, y = _blobs()
    labels, z, seconds = n2d(x, 4, seed=3)
    assert z.shape == (300, 4) and seconds > 0 and ari(y, labels) == 1.0
    with threadpool_limits(1):  # by hand, with N2D's settings
        z_hand = umap.UMAP(n_neighbors=20, n_components=4, min_dist=0.0, metric="euclidean", random_state=3,
                           n_jobs=1).fit_transform(x)
        hand = GaussianMixture(4, covariance_type="full", random_state=3).fit(z_hand).predict(z_hand)
    assert np.array_equal(z, z_hand) and np.array_equal(labels, hand)
    assert N2D_SETTINGS["n_components"] == "K" and N2D_SETTINGS["n_neighbors"] == 20
    with threadpool_limits(2):  # the spectral start runs on one BLAS thread: same map under any OMP setting
        again, z_again, _ = n2d(x, 4, seed=3)
    assert np.array_equal(z, z_again) and np.array_equal(labels, again)


def test_n2d_refuses_what_it_cannot_map():
    x, _ = _blobs(n=40)
    with pytest.raises(ValueError, match="larger than the number of texts"):
        n2d(x[:3], 5)
    with pytest.raises(ValueError, match="needs at least 4 points"):
        n2d(x[:3], 2)  # UMAP's spectral start needs K + 2 points
    with pytest.raises(ValueError, match=r"\(2 distinct\).*3 distinct ones"):
        n2d(np.repeat(x[:2], 20, axis=0), 3)  # all duplicates of two texts: no third cluster to find
    with pytest.raises(ValueError, match="NaN or infinite"):
        n2d(np.where(np.arange(40)[:, None] == 7, np.nan, x), 3)


def test_n2d_in_the_runner_and_in_cluster(tmp_path, capsys):
    from stc_utils.__main__ import main

    rows = runner.bench(["searchsnippets"], ["n2d", "n2d_kmeans"], 1, tmp_path / "b.csv", n=200, fast=True,
                        progress=False).set_index("method")
    assert all(0.3 < rows.loc[m, "acc"] <= 1 for m in ("n2d", "n2d_kmeans"))
    assert rows.loc["n2d_kmeans", "seconds"] >= rows.loc["n2d", "seconds"]  # the same map, then K-means
    settings = json.loads(rows.loc["n2d_kmeans", "settings"])
    assert settings["covariance_type"] == "full" and settings["clusterer"].startswith("kmeans")
    ds = load_dataset("searchsnippets", n=200, seed=0)
    path = tmp_path / "mine.txt"
    path.write_text("".join(t + "\n" for t in ds.texts[:120]), encoding="utf-8")
    summary = runner.cluster_file(path, tmp_path / "out", k=4, method="n2d", progress=False, make_map=False)
    frame = pd.read_csv(tmp_path / "out" / "assignments.csv")
    assert summary["method"] == "n2d" and len(frame) == 120 and frame["cluster"].between(0, 3).all()
    assert frame["confidence"].between(0, 1).all() and frame["confidence"].median() > 0.25  # above chance (1/K)
    tiny = tmp_path / "tiny.txt"  # 4 distinct texts, K = 3: UMAP would need 5
    tiny.write_text("red apple\ngreen pear\nblue sky\nyellow sun\n", encoding="utf-8")
    assert main(["cluster", str(tiny), "--out", str(tmp_path / "o2"), "--k", "3", "--method", "n2d", "--no-map"]) == 2
    assert "needs at least 5 points" in capsys.readouterr().err

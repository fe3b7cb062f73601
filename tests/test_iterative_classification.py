"""Lesson 08e: iterative classification on two views, in the package, the runner and ``cluster``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from stc_utils import runner
from stc_utils.cluster import iterative_classification
from stc_utils.data import load_dataset
from stc_utils.metrics import cluster_accuracy


def _two_views(k=4, n=400, seed=0):
    """Two noisy views of the same k classes: each alone is blurred, together they are clear."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    a = rng.normal(0, 1.2, (k, 8))[y] + rng.normal(0, 1, (n, 8))
    b = rng.normal(0, 1.2, (k, 8))[y] + rng.normal(0, 1, (n, 8))
    return a, b, y


def test_it_repairs_a_noisy_start_stops_on_its_own_and_repeats():
    a, b, y = _two_views()
    rng = np.random.default_rng(1)
    start = np.where(rng.random(len(y)) < 0.3, rng.integers(0, 4, len(y)), y)  # ~22 % of the texts wrong
    seen = []
    labels, history = iterative_classification([a, sp.csr_matrix(b)], start, a, seed=0,
                                               on_round=lambda r, lab, ch: seen.append((r, ch)))
    before, after = cluster_accuracy(y, start), cluster_accuracy(y, labels)
    assert before < 0.8 and after > before + 0.1  # the classifiers outvote the wrong starts
    assert history and history[-1] < 0.005 and len(history) < 30  # stopped by the change rule, without labels
    assert [c for _, c in seen] == history and [r for r, _ in seen] == list(range(1, len(history) + 1))
    with threadpool_limits(2):
        again, _ = iterative_classification([a, sp.csr_matrix(b)], start, a, seed=0)
    assert np.array_equal(labels, again)  # same seed, same labels, whatever the threads
    one, _ = iterative_classification([a], start, a, seed=0)
    assert before < cluster_accuracy(y, one) < after  # one view alone helps less than the two together


def test_it_refuses_mismatched_views_and_single_cluster_starts():
    a, b, y = _two_views(n=40)
    with pytest.raises(ValueError, match="one row per text"):
        iterative_classification([a, b[:30]], y, a)
    with pytest.raises(ValueError, match="at least two clusters"):
        iterative_classification([a], np.zeros(40, int), a)
    with pytest.raises(ValueError, match="cluster number >= 0"):
        iterative_classification([a], np.where(np.arange(40) == 3, -1, y), a)


def test_n2d_ic_in_the_runner_and_in_cluster(tmp_path, capsys):
    from stc_utils.__main__ import main

    methods = ["n2d_kmeans", "n2d_ic", "n2d_hybrid_kmeans", "n2d_hybrid_ic"]
    rows = runner.bench(["searchsnippets"], methods, 1, tmp_path / "b.csv", n=300, fast=True,
                        progress=False).set_index("method")
    for start, ic in (("n2d_kmeans", "n2d_ic"), ("n2d_hybrid_kmeans", "n2d_hybrid_ic")):
        assert 0.3 < rows.loc[ic, "acc"] <= 1
        assert rows.loc[ic, "seconds"] > rows.loc[start, "seconds"]  # the same start, then the rounds
        settings = json.loads(rows.loc[ic, "settings"])
        assert settings["clusterer"].startswith("kmeans") and settings["ic"]["tol"] == 0.005 and settings["rounds"] >= 1
    assert "hybrid" in json.loads(rows.loc["n2d_hybrid_ic", "settings"])["input"]
    assert "input" not in json.loads(rows.loc["n2d_ic", "settings"])  # the map of MiniLM alone
    assert rows.loc["n2d_hybrid_kmeans", "acc"] != rows.loc["n2d_kmeans", "acc"]  # another map, another start
    ds = load_dataset("searchsnippets", n=300, seed=0)
    path = tmp_path / "mine.txt"
    path.write_text("".join(t + "\n" for t in ds.texts[:150]), encoding="utf-8")
    summary = runner.cluster_file(path, tmp_path / "out", k=4, method="n2d_ic", progress=False, make_map=False)
    frame = pd.read_csv(tmp_path / "out" / "assignments.csv")
    assert summary["method"] == "n2d_ic" and summary["ic rounds"] >= 1 and len(frame) == 150
    settled = summary["ic changed last round"] < 0.005
    assert summary["ic stop"] == "the labels settled" if settled else "had not settled" in summary["ic stop"]
    assert frame["cluster"].between(0, 3).all() and frame["confidence"].between(0, 1).all()
    hyb = runner.cluster_file(path, tmp_path / "out_h", k=4, method="n2d_hybrid_ic", progress=False, make_map=False)
    assert hyb["method"] == "n2d_hybrid_ic" and hyb["ic rounds"] >= 1
    assert len(pd.read_csv(tmp_path / "out_h" / "assignments.csv")) == 150
    lonely = tmp_path / "lonely.txt"  # no word in two texts: TF-IDF has nothing to learn from
    lonely.write_text("".join(f"word{i} other{i}\n" for i in range(30)), encoding="utf-8")
    for method in ("n2d_ic", "n2d_hybrid_ic"):
        assert main(["cluster", str(lonely), "--out", str(tmp_path / f"o_{method}"), "--k", "3", "--method", method,
                     "--no-map"]) == 2
        assert f"--method {method}: " in (err := capsys.readouterr().err) and "no word shared by two texts" in err


def test_cluster_runs_keeps_the_majority_of_several_n2d_hybrid_ic_runs(tmp_path, capsys):
    from stc_utils.__main__ import main
    from stc_utils.scan import consensus

    ds = load_dataset("searchsnippets", n=150, seed=0)
    path = tmp_path / "mine.txt"
    path.write_text("".join(t + "\n" for t in ds.texts), encoding="utf-8")
    singles = [pd.read_csv(runner.cluster_file(path, tmp_path / f"s{s}", k=4, method="n2d_hybrid_ic", seed=s,
                                               progress=False, make_map=False) and tmp_path / f"s{s}" / "assignments.csv")
               ["cluster"].to_numpy() for s in (3, 4, 5)]
    assert main(["cluster", str(path), "--out", str(tmp_path / "vote"), "--k", "4", "--method", "n2d_hybrid_ic",
                 "--seed", "3", "--runs", "3", "--no-map"]) == 0
    out = capsys.readouterr().out
    assert "runs: 3 runs (seeds 3-5), their majority" in out and "ic stop: the labels settled in" in out
    frame = pd.read_csv(tmp_path / "vote" / "assignments.csv")
    assert np.array_equal(frame["cluster"], consensus(np.stack(singles), 4, how="majority"))  # the three runs above
    assert frame["confidence"].between(0, 1).all()
    assert "the majority of 3 runs" in (tmp_path / "vote" / "clusters.md").read_text().splitlines()[0]
    for method in ("kmeans", "n2d_ic"):  # measured for n2d_hybrid_ic only
        assert main(["cluster", str(path), "--out", str(tmp_path / f"r_{method}"), "--k", "4", "--method", method,
                     "--runs", "2", "--no-map"]) == 2
        assert "--runs 2: a vote of several runs is offered for --method n2d_hybrid_ic only" in capsys.readouterr().err
    assert not (tmp_path / "r_kmeans").exists()  # refused before anything was written


def test_n2d_hybrid_ic_vote_is_the_majority_of_five_runs_in_the_runner_and_in_cluster(tmp_path, capsys):
    from stc_utils.__main__ import main
    from stc_utils.metrics import evaluate
    from stc_utils.scan import consensus

    inp = runner.Inputs("searchsnippets", 200)
    row = runner.run_method(inp, "n2d_hybrid_ic_vote", 1, True)  # seed 1: n2d_hybrid_ic's seeds 5-9
    runs = np.stack([inp._memo["labels", "n2d_hybrid_ic", s] for s in range(5, 10)])
    vote = json.loads(row["settings"])["vote"]
    assert vote["seeds"] == [5, 6, 7, 8, 9] and len(vote["rounds"]) == 5 and "rounds" not in json.loads(row["settings"])
    assert row["acc"] == evaluate(inp.ds.labels, consensus(runs, inp.ds.n_classes, how="majority"))["acc"]
    assert row["stop_reason"].startswith("tol in ") and row["stop_reason"].endswith(" of 5 runs")
    fresh = runner.Inputs("searchsnippets", 200)
    again = runner.run_method(fresh, "n2d_hybrid_ic", 8, True)  # a single run of seed 8, from nothing
    assert np.array_equal(fresh._memo["labels", "n2d_hybrid_ic", 8], runs[3])
    assert round(again["acc"], 4) == vote["runs_acc (scored only)"][3]
    assert row["seconds"] > again["seconds"]  # five runs' seconds and the vote's
    ds = load_dataset("searchsnippets", n=150, seed=0)
    path = tmp_path / "mine.txt"
    path.write_text("".join(t + "\n" for t in ds.texts), encoding="utf-8")
    assert main(["cluster", str(path), "--out", str(tmp_path / "v"), "--k", "4", "--method", "n2d_hybrid_ic_vote",
                 "--seed", "1", "--no-map"]) == 0  # the runner's seed 1: runs from seeds 5-9
    assert "runs: 5 runs (seeds 5-9), their majority" in capsys.readouterr().out
    assert "the majority of 5 runs" in (tmp_path / "v" / "clusters.md").read_text().splitlines()[0]
    assert main(["cluster", str(path), "--out", str(tmp_path / "w"), "--k", "4", "--method", "n2d_hybrid_ic_vote",
                 "--runs", "3", "--no-map"]) == 2
    assert "n2d_hybrid_ic_vote is --method n2d_hybrid_ic --runs 5 --seed 5 x SEED" in capsys.readouterr().err

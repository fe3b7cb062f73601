"""The runner (``python -m stc_utils bench``) and ``cluster FILE``: resumable, clear errors, files written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stc_utils import runner
from stc_utils.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STC_FAST": "1"}
    return subprocess.Popen([sys.executable, "-m", "stc_utils", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_unknown_method_or_dataset_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown method 'kmeans'.*bert_kmeans"):
        runner.bench(["searchsnippets"], ["kmeans"], 1, tmp_path / "x.csv")
    with pytest.raises(ValueError, match="unknown dataset 'agnews'.*stackoverflow"):
        runner.bench(["agnews"], ["all"], 1, tmp_path / "x.csv")
    proc = _cli("bench", "--datasets", "searchsnippets", "--methods", "nope", "--out", str(tmp_path / "x.csv"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "unknown method 'nope'" in err and "Traceback" not in err


def test_bench_rows_scores_and_table(tmp_path):
    out = tmp_path / "bench.csv"
    rows = runner.bench(["searchsnippets"], ["bert_kmeans", "tfidf_kmeans"], 2, out, n=200, fast=True, progress=False)
    assert len(rows) == 4 and set(rows["method"]) == {"bert_kmeans", "tfidf_kmeans"}
    assert rows[list(runner.SCORES)].apply(lambda c: c.between(0, 1)).all().all()
    again = runner.bench(["searchsnippets"], ["bert_kmeans", "tfidf_kmeans"], 2, out, n=200, fast=True, progress=False)
    pd.testing.assert_frame_equal(again, pd.read_csv(out, dtype={"stop_reason": str}))  # nothing recomputed
    assert len(again) == 4
    table = runner.markdown_table(again)
    assert table.count("\n") == 3 and "MiniLM mean pooling + K-means" in table and " ± " in table


def test_killed_run_resumes_and_loses_at_most_the_row_in_progress(tmp_path):
    """Kill the CLI as soon as its first row is on disk; the restart computes only what is missing."""
    out = tmp_path / "bench.csv"
    args = ["bench", "--datasets", "searchsnippets", "--methods", "bert_kmeans", "tfidf_kmeans", "w2v_sif_kmeans",
            "--seeds", "2", "--n", "200", "--fast", "--out", str(out)]
    proc = _cli(*args, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (out.is_file() and len(pd.read_csv(out)) >= 1):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = pd.read_csv(out)  # a complete CSV: every row whole
    assert 1 <= len(before) < 6 and not before[list(runner.SCORES)].isna().any().any()
    proc = _cli(*args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    after = pd.read_csv(out)
    assert len(after) == 6 and not after.duplicated(["dataset", "method", "seed"]).any()
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)  # the finished rows were kept as they were


def test_class_tfidf_terms_pick_each_cluster_s_own_words():
    texts = ["python pandas dataframe", "pandas dataframe merge", "java spring boot", "spring boot java bean"]
    terms = runner.class_tfidf_terms(texts, [0, 0, 1, 1], n_terms=2)
    assert set(terms[0]) <= {"pandas", "dataframe", "python", "merge"} and "pandas" in terms[0] + ["dataframe"]
    assert set(terms[1]) <= {"java", "spring", "boot", "bean"}


def test_cluster_file_writes_assignments_cards_map_and_evaluation(tmp_path):
    ds = load_dataset("searchsnippets", n=120, seed=0)
    path = tmp_path / "mine.tsv"
    path.write_text("".join(f"{ds.class_names[y]}\t{t}\n" for t, y in zip(ds.texts, ds.labels)), encoding="utf-8")
    proc = _cli("cluster", str(path), "--k", "4", "--out", str(tmp_path / "out"))
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    out = tmp_path / "out"
    frame = pd.read_csv(out / "assignments.csv")
    assert list(frame.columns) == ["text", "cluster", "confidence", "label"] and len(frame) == 120
    assert frame["cluster"].between(0, 3).all() and frame["confidence"].between(0.25, 1).all()
    cards = (out / "clusters.md").read_text(encoding="utf-8")
    assert cards.count("## cluster") == 4 and "top terms" in cards
    assert (out / "map.png").stat().st_size > 1000
    scores = json.loads((out / "evaluation.json").read_text())
    assert scores["true k"] == ds.n_classes and 0 < scores["acc"] <= 1
    assert "acc" in stdout.lower()


def test_cluster_file_errors_are_clear(tmp_path):
    tiny = tmp_path / "two.txt"
    tiny.write_text("one text\nanother text\n", encoding="utf-8")
    with pytest.raises(ValueError, match="at least 3"):
        runner.cluster_file(tiny, tmp_path / "o", k=2, progress=False)
    with pytest.raises(ValueError, match="unknown method 'hdbscan'"):
        runner.cluster_file(tiny, tmp_path / "o", method="hdbscan", progress=False)
    proc = _cli("cluster", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "no such file" in err and "Traceback" not in err


def test_hide_labels_keeps_a_stratified_share_of_each_class():
    y = np.repeat(np.arange(4), [50, 30, 12, 3])
    seen = runner.hide_labels(y, 0.1, seed=0)
    kept = {c: int((seen == c).sum()) for c in range(4)}
    assert kept == {0: 5, 1: 3, 2: 2, 3: 2}  # round(10 %), at least 2 per class
    assert ((seen == -1) | (seen == y)).all()  # a seen label is the true one
    assert (runner.hide_labels(y, 0.1, seed=0) == seen).all() and (runner.hide_labels(y, 0.1, seed=1) != seen).any()


def test_few_label_methods_need_a_fraction_and_all_adds_them_only_with_one(tmp_path):
    with pytest.raises(ValueError, match="fewlabel need.*--label-fraction"):
        runner.bench(["searchsnippets"], ["fewlabel"], 1, tmp_path / "x.csv")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        runner.bench(["searchsnippets"], ["fewlabel"], 1, tmp_path / "x.csv", label_fraction=1.5)
    proc = _cli("bench", "--datasets", "searchsnippets", "--methods", "fewlabel_lr", "--out", str(tmp_path / "x.csv"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "label fraction" in err and "Traceback" not in err
    unsupervised = runner.check_names(["all"], runner.METHODS, "method", [m for m in runner.METHODS if m not in runner.FEW_LABELS])
    assert "sccl" in unsupervised and not set(unsupervised) & set(runner.FEW_LABELS)


def test_lesson05_methods_in_the_runner(tmp_path):
    """Zero labels (SCCL mode) scored on all texts; few labels scored on the texts whose labels were hidden."""
    out = tmp_path / "bench.csv"
    rows = runner.bench(["searchsnippets"], ["sccl", "fewlabel_lr", "fewlabel"], 1, out, n=200, fast=True,
                        progress=False, label_fraction=0.1)
    by = rows.set_index("method")
    assert list(by["label_fraction"]) == [0.0, 0.1, 0.1] and by.loc["sccl", "stop_reason"] == "max_rounds"
    assert rows[list(runner.SCORES)].apply(lambda c: c.between(0, 1)).all().all()
    settings = json.loads(by.loc["fewlabel", "settings"])
    ds = load_dataset("searchsnippets", n=200, seed=0)
    expected = sum(max(2, round(0.1 * c)) for c in np.bincount(ds.labels))  # round(10 %) of each class, >= 2
    assert settings["labelled"] == expected and settings["max_rounds"] == 1
    # the LR starting point, scored as the runner scores it: plain accuracy on the hidden texts
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from stc_utils.contrastive import holdout_split
    from stc_utils.embed import embed_texts

    seen = runner.hide_labels(ds.labels, 0.1, 0)
    _, train = holdout_split(seen, 0.2, 0)
    x = embed_texts(ds.texts, progress=False)
    folds = min(5, np.unique(ds.labels[train], return_counts=True)[1].min())
    lr = GridSearchCV(LogisticRegression(max_iter=2000), {"C": list(np.logspace(-2, 4, 7))}, scoring="neg_log_loss",
                      cv=StratifiedKFold(folds, shuffle=True, random_state=0)) if folds > 1 else \
        LogisticRegression(max_iter=2000)  # C by cross-validation on L only; C = 1 with one text in a class
    pred = lr.fit(x[train], ds.labels[train]).predict(x)
    assert by.loc["fewlabel_lr", "acc"] == pytest.approx(np.mean(pred[seen < 0] == ds.labels[seen < 0]))
    again = runner.bench(["searchsnippets"], ["sccl", "fewlabel_lr", "fewlabel"], 1, out, n=200, fast=True,
                         progress=False, label_fraction=0.1)
    pd.testing.assert_frame_equal(again, pd.read_csv(out, dtype={"stop_reason": str}))  # nothing recomputed
    assert len(again) == 3


def test_a_csv_from_before_label_fractions_resumes(tmp_path):
    out = tmp_path / "bench.csv"
    runner.bench(["searchsnippets"], ["tfidf_kmeans"], 1, out, n=200, fast=True, progress=False)
    pd.read_csv(out).drop(columns="label_fraction").to_csv(out, index=False)  # the old format
    rows = runner.bench(["searchsnippets"], ["tfidf_kmeans"], 1, out, n=200, fast=True, progress=False)
    assert len(rows) == 1 and rows["label_fraction"].tolist() == [0.0]


def test_self_train_uses_the_reference_codes_sif_and_w2v_kmeans_keeps_lesson_02s():
    """Self-Train's inputs: SIF with a = 0.1 and the sum divided by the words with a vector (Hadifar et al.'s
    data_loader.py); lesson 02's w2v_sif_kmeans keeps a = 1e-3 and the weighted mean."""
    from stc_utils.autoencoder import SELF_TRAIN_SIF
    from stc_utils.data import load_word2vec
    from stc_utils.embed import sif_embed, tokenize

    assert SELF_TRAIN_SIF == {"a": 0.1, "average": "count"}
    inputs = runner.Inputs("searchsnippets", n=200)
    tokens, kv = [tokenize(t) for t in inputs.ds.texts], load_word2vec("searchsnippets")
    assert np.allclose(inputs.get("w2v_self_train"), sif_embed(tokens, kv, a=0.1, average="count"))
    assert np.allclose(inputs.get("w2v"), sif_embed(tokens, kv))
    assert not np.allclose(inputs.get("w2v"), inputs.get("w2v_self_train"))
    row = runner.run_method(inputs, "self_train", seed=0, fast=True)
    assert json.loads(row["settings"])["sif"] == SELF_TRAIN_SIF and 0 < row["acc"] <= 1


def test_scan_in_the_runner_and_in_cluster(tmp_path):
    rows = runner.bench(["searchsnippets"], ["scan", "scan_head"], 1, tmp_path / "b.csv", n=200, fast=True,
                        progress=False).set_index("method")
    row, head = rows.loc["scan"], rows.loc["scan_head"]
    settings = json.loads(row["settings"])
    assert 0 < row["acc"] <= 1 and row["stop_reason"] in ("tol", "max_epochs") and settings["consensus"]
    assert settings["epochs"] == 3 and settings["neighbours"] == 20 and 0 <= settings["head"] < settings["heads"]
    head_settings = json.loads(head["settings"])
    assert row["seconds"] == head["seconds"] and head_settings["head"] == settings["head"]  # one fit, two rows
    assert not head_settings["consensus"]
    assert 0 < head["acc"] <= 1
    ds = load_dataset("searchsnippets", n=150, seed=0)
    path = tmp_path / "mine.txt"
    path.write_text("".join(t + "\n" for t in ds.texts), encoding="utf-8")
    summary = runner.cluster_file(path, tmp_path / "out", k=5, method="scan", progress=False, make_map=False)
    frame = pd.read_csv(tmp_path / "out" / "assignments.csv")
    assert summary["method"] == "scan" and summary["scan stop"] in ("tol", "max_epochs") and len(frame) == 150
    assert summary["scan labels"].startswith("vote of 10 heads (their ARI with it ")
    assert frame["cluster"].between(0, 4).all() and "method scan" in (tmp_path / "out" / "clusters.md").read_text()
    small = tmp_path / "small.txt"
    small.write_text("".join(f"text number {i} about topic {i % 3}\n" for i in range(12)), encoding="utf-8")
    with pytest.raises(ValueError, match="SCAN needs more than neighbours=20"):
        runner.cluster_file(small, tmp_path / "o2", k=3, method="scan", progress=False, make_map=False)


def test_scan_hybrid_in_the_runner_and_in_cluster(tmp_path):
    from stc_utils.embed import hybrid

    rows = runner.bench(["searchsnippets"], ["scan", "scan_hybrid", "hybrid_kmeans"], 1, tmp_path / "b.csv", n=200,
                        fast=True, progress=False).set_index("method")
    settings = json.loads(rows.loc["scan_hybrid", "settings"])
    assert settings["consensus"] and settings["words"].startswith("tfidf_lsa 100-d")
    scores = ["seconds", "acc", "nmi", "ari"]  # its own fit, not scan's memo (equal seconds alone can happen)
    assert (rows.loc["scan_hybrid", scores] != rows.loc["scan", scores]).any()
    assert all(0 < rows.loc[m, "acc"] <= 1 for m in ("scan_hybrid", "hybrid_kmeans"))
    ds = load_dataset("searchsnippets", n=200, seed=0)
    x = np.random.default_rng(0).normal(size=(200, 8))
    z = hybrid(x, ds.texts)
    # both halves have length 1/sqrt(2): the cosine is the mean of the two views' cosines
    assert np.allclose(np.linalg.norm(z[:, :8], axis=1), 2 ** -0.5, atol=1e-5)
    norms = np.linalg.norm(z, axis=1)  # 1, or 1/sqrt(2) where no word of the text occurs in another
    alone = ["grandslamboats grandslam boatworks "]
    assert np.allclose(norms[[t not in alone for t in ds.texts]], 1, atol=1e-5) and np.isclose(norms.min(), 2 ** -0.5)
    with pytest.raises(ValueError, match="one vector per text"):
        hybrid(x[:10], ds.texts)
    with pytest.raises(ValueError, match="share too few words"):
        hybrid(x[:3], ["alpha beta", "gamma delta", "epsilon zeta"])
    with pytest.raises(ValueError, match="share only 2 word"):  # LSA would keep one dimension: no view
        hybrid(x[:4], ["alpha x one", "alpha y two", "beta z three", "beta w four"])
    path = tmp_path / "mine.txt"
    path.write_text("".join(t + "\n" for t in ds.texts[:150]), encoding="utf-8")
    summary = runner.cluster_file(path, tmp_path / "out", k=5, method="scan_hybrid", progress=False, make_map=False)
    frame = pd.read_csv(tmp_path / "out" / "assignments.csv")
    assert summary["method"] == "scan_hybrid" and len(frame) == 150 and frame["cluster"].between(0, 4).all()


def test_cluster_hybrid_kmeans_uses_both_views(tmp_path, capsys):
    from stc_utils.__main__ import main
    from stc_utils.cluster import kmeans
    from stc_utils.embed import embed_texts, hybrid
    from stc_utils.metrics import ari

    ds = load_dataset("stackoverflow", n=150, seed=0)
    path = tmp_path / "mine.txt"
    path.write_text("".join(t + "\n" for t in ds.texts), encoding="utf-8")
    summary = runner.cluster_file(path, tmp_path / "out", k=6, method="hybrid_kmeans", seed=1, progress=False,
                                  make_map=False)
    frame = pd.read_csv(tmp_path / "out" / "assignments.csv")
    x = embed_texts(ds.texts, progress=False, max_length=runner.MAX_TOKENS)
    expected = kmeans(hybrid(x, ds.texts, seed=1), 6, seed=1, n_init=10)
    assert summary["method"] == "hybrid_kmeans" and (frame["cluster"].to_numpy() == expected).all()
    assert ari(expected, kmeans(x, 6, seed=1, n_init=10)) < 0.99  # the word view changed the partition
    no_shared = tmp_path / "no_shared.txt"  # no word occurs in two texts: no word view to add
    no_shared.write_text("".join(f"w{i}a w{i}b w{i}c\n" for i in range(30)), encoding="utf-8")
    assert main(["cluster", str(no_shared), "--out", str(tmp_path / "o2"), "--k", "3", "--method", "hybrid_kmeans",
                 "--no-map"]) == 2
    assert "share too few words" in capsys.readouterr().err

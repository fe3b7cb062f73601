"""choose_k (lesson 07): each criterion finds K on well-separated blobs; the table; errors; the CLI."""

import numpy as np
import pandas as pd
import pytest

from stc_utils.__main__ import main
from stc_utils.cluster import (BIC_MIN_TEXTS, CRITERIA, best_k, choose_k, elbow_curve, small_corpus_warning,
                               umap_hdbscan)
from stc_utils.metrics import ari

from conftest import needs_data


def _blobs(k=5, n=500, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 6, (k, 10))
    y = np.arange(n) % k
    return centers[y] + rng.normal(0, 1, (n, 10)), y


def test_every_criterion_recovers_k_on_separated_blobs():
    for k_true in (3, 5):
        x, _ = _blobs(k_true)
        k, table = choose_k(x, range(2, 11), seed=0)
        assert k == k_true
        assert {c: best_k(table, c) for c in CRITERIA} == {c: k_true for c in CRITERIA}


def test_ties_go_to_the_larger_k():
    table = pd.DataFrame({"stability": [1.0, 1.0, 0.8], "bic": [3.0, 1.0, 1.0]}, index=[2, 3, 4])
    assert best_k(table, "stability") == 3 and best_k(table, "bic") == 4


def test_table_has_one_row_per_k_and_every_criterion_with_its_time():
    x, _ = _blobs()
    _, table = choose_k(x, [6, 2, 4, 4, 3])
    assert list(table.index) == [2, 3, 4, 6] and table.index.name == "k"
    for c in CRITERIA:
        assert c in table and (c == "elbow" or (table[f"{c} s"] >= 0).all())
    assert table["inertia"].is_monotonic_decreasing and "kmeans s" in table
    assert table["elbow"].iloc[0] == 0 and table["elbow"].iloc[-1] == 0  # the chord's end points


def test_only_the_requested_criteria_are_computed():
    x, _ = _blobs()
    k, table = choose_k(x, range(2, 8), method="bic", criteria=["stability"])
    assert k == 5 and set(table.columns) == {"stability", "stability s", "bic", "bic s"}


def test_same_seed_same_table_and_a_subsample_for_large_n():
    x, _ = _blobs(n=600)
    values = lambda t: t[[c for c in t.columns if not c.endswith(" s")]]  # noqa: E731
    _, a = choose_k(x, range(2, 9), seed=3, sample=200)
    _, b = choose_k(x, range(2, 9), seed=3, sample=200)
    _, c = choose_k(x, range(2, 9), seed=4, sample=200)
    pd.testing.assert_frame_equal(values(a), values(b))
    assert not np.allclose(a["silhouette"], c["silhouette"])  # another subsample


def test_elbow_is_the_point_farthest_below_the_chord():
    curve = elbow_curve([1, 2, 3, 4, 5], [100, 30, 20, 15, 12])
    assert int(np.argmax(curve)) == 1
    assert np.isclose(curve[1], 1 - 0.25 - 18 / 88)


def test_stability_is_nan_when_k_exceeds_a_half():
    x, _ = _blobs(n=12)
    _, table = choose_k(x, [2, 3, 6, 7], criteria=["stability"])
    assert table["stability"].notna().tolist() == [True, True, True, False]


def test_bad_input_is_a_clear_error():
    x, _ = _blobs(n=50)
    with pytest.raises(ValueError, match=r"2\.\.n-1 = 2\.\.49 for 50 texts.*from 1 to 5"):
        choose_k(x, range(1, 6))
    with pytest.raises(ValueError, match=r"2\.\.49.*from 2 to 50"):
        choose_k(x, [2, 50])
    with pytest.raises(ValueError, match="at least 3 texts"):
        choose_k(x[:2], [2, 3])
    with pytest.raises(ValueError, match="at least two different K"):
        choose_k(x, [4, 4])
    with pytest.raises(ValueError, match="unknown method 'gap'; known: silhouette, calinski_harabasz"):
        choose_k(x, [2, 3], method="gap")
    x_nan = x.copy()
    x_nan[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite.*row: 7"):
        choose_k(x_nan, [2, 3])
    with pytest.raises(ValueError, match="positive integer"):
        choose_k(x, [2, 3.5])


def test_cli_k_argument(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--dataset", "searchsnippets", "--k", "many"])
    assert "argument --k: takes 'auto' or a number of clusters (2 or more), got 'many'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--k", "auto", "--criterion", "gap"])


@needs_data
def test_cli_k_auto_prints_the_choice_before_the_results(capsys):
    argv = ["run", "--dataset", "searchsnippets", "--n", "300", "--seeds", "1", "--n-init", "1"]
    assert main(argv + ["--k", "auto", "--k-max", "12"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert small_corpus_warning(300) in captured.err  # 300 texts: BIC's small-corpus warning
    chosen = int(out.split("chosen K = ")[1].split()[0])
    assert 2 <= chosen <= 12 and out.index("chosen K") < out.index("acc")
    table_lines = [line for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert [int(line.split()[0]) for line in table_lines[:11]] == list(range(2, 13))
    assert main(argv + ["--k", "5"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err  # K given: nothing chosen, nothing to warn about
    row = captured.out.splitlines()[-1].split()
    assert row[:4] == ["searchsnippets", "300", "8", "5"]
    assert main(argv + ["--k", "400"]) == 2
    assert "--k 400 is more than the 300 texts of searchsnippets" in capsys.readouterr().err


def test_umap_hdbscan_finds_separated_blobs_and_reports_outliers():
    x, y = _blobs(k=4, n=400)
    labels, info = umap_hdbscan(x, seed=0)
    assert info["k"] == 4 and info["outliers"] < 0.05 and info["seconds"] > 0
    kept = labels >= 0
    assert ari(y[kept], labels[kept]) == 1.0


def test_refine_finds_the_grid_pick_with_fewer_fits():
    x, _ = _blobs(k=12, n=1200, seed=2)
    k_grid, grid = choose_k(x, range(2, 41), criteria=["bic"], search="grid")
    k_fine, fine = choose_k(x, range(2, 41), criteria=["bic"], search="refine", bic_tol=1e-3)
    assert k_grid == k_fine == 12
    assert len(grid) == 39 and len(fine) < 20 and set(fine.index) <= set(grid.index)
    assert {11, 12, 13} <= set(fine.index)  # bisected down to the pick's neighbours
    # the same fits where both visited a K: refine only skips K, it does not change a score
    assert np.allclose(fine["bic"], grid.loc[fine.index, "bic"])


def test_auto_search_keeps_the_grid_for_the_default_range_and_refines_wide_ones():
    x, _ = _blobs(k=5, n=2000)
    _, default = choose_k(x, range(2, 41), criteria=["bic"])
    _, grid = choose_k(x, range(2, 41), criteria=["bic"], search="grid")
    assert list(default.index) == list(range(2, 41))
    pd.testing.assert_series_equal(default["bic"], grid["bic"])
    k, wide = choose_k(x, range(2, 71), criteria=["bic"])  # K up to 70 > 60: coarse-to-fine
    assert k == 5 and len(wide) < 20 and {2, 70} <= set(wide.index) and {4, 5, 6} <= set(wide.index)
    with pytest.raises(ValueError, match="unknown search 'log'"):
        choose_k(x, range(2, 5), search="log")


def test_small_corpus_warning_below_the_measured_size():
    assert small_corpus_warning(BIC_MIN_TEXTS) is None and small_corpus_warning(10 * BIC_MIN_TEXTS) is None
    note = small_corpus_warning(BIC_MIN_TEXTS - 1)
    assert note.startswith("warning:") and f"{BIC_MIN_TEXTS - 1:,} texts" in note and f"{BIC_MIN_TEXTS:,}" in note
    assert "--k" in note and "lesson 07" in note
    assert small_corpus_warning(100, method="silhouette") is None  # measured for BIC only

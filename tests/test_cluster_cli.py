import numpy as np
import pytest

from stc_utils.__main__ import main
from stc_utils.cluster import check_n_clusters, kmeans, kmeans_seeds, summary_row

from conftest import needs_data


def _blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [5, 5], [0, 5]])
    y = np.repeat(np.arange(3), 30)
    return centers[y] + rng.normal(0, 0.3, (90, 2)), y


def test_kmeans_over_seeds_on_separable_blobs():
    x, y = _blobs()
    runs = kmeans_seeds(x, y, seeds=[0, 1], n_init=2)
    assert list(runs["seed"]) == [0, 1] and (runs["acc"] == 1.0).all()
    assert summary_row(runs)["acc"] == "1.000 ± 0.000"


def test_same_seed_same_labels():
    x, _ = _blobs()
    assert np.array_equal(kmeans(x, 3, seed=4, n_init=1), kmeans(x, 3, seed=4, n_init=1))


def test_too_many_clusters_is_a_clear_error():
    x, _ = _blobs()
    with pytest.raises(ValueError, match="n_clusters=100 is larger than the number of texts \\(90\\)"):
        kmeans(x, 100)
    with pytest.raises(ValueError, match="positive integer"):
        check_n_clusters(0, 10)


def test_cli_unknown_dataset(capsys):
    assert main(["run", "--dataset", "agnews"]) == 2
    assert "known datasets" in capsys.readouterr().err


@needs_data
def test_cli_small_real_run(capsys):
    assert main(["run", "--dataset", "stackoverflow", "--n", "200", "--seeds", "2", "--n-init", "2"]) == 0
    out = capsys.readouterr().out
    assert "stackoverflow" in out and "±" in out and "embed s" in out


@needs_data
def test_cli_check_reports_model_and_every_file(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "[OK]   bundled all-MiniLM-L6-v2 (sha256 verified)" in out
    assert out.count("[OK]   ") >= 11 + 11  # modules + the 11 registered files
    assert "environment ready" in out


def test_cli_check_fails_clearly_without_data(tmp_path, monkeypatch, capsys):
    from stc_utils import data

    monkeypatch.setenv("STC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STC_OFFLINE", "1")
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "none")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] stackoverflow/title_StackOverflow.txt" in out and "check(s) failed" in out

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

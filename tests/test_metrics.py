import numpy as np
import pytest

from stc_utils import metrics as M


def test_relabelled_perfect_clustering_scores_one():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    pred = np.array([5, 5, 9, 9, 1, 1, 1])  # a permutation with arbitrary ids
    acc, mapping = M.cluster_accuracy(y, pred, return_mapping=True)
    assert acc == 1.0 and mapping == {5: 0, 9: 1, 1: 2}
    scores = M.evaluate(y, pred)
    for k in ("acc", "nmi", "ami", "ari", "precision", "recall", "f1", "purity"):
        assert scores[k] == pytest.approx(1.0)


def test_accuracy_invariant_to_relabelling_random():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 300)
    pred = np.where(rng.random(300) < 0.7, y, rng.integers(0, 5, 300))
    perm = rng.permutation(5)
    assert M.cluster_accuracy(y, pred) == pytest.approx(M.cluster_accuracy(y, perm[pred]))
    assert M.nmi(y, pred) == pytest.approx(M.nmi(y, perm[pred]))


def test_hand_computed_confusion_matrix():
    # classes a=0 (4 items), b=1 (3 items); clusters 0 and 1
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    pred = np.array([1, 1, 1, 0, 0, 0, 1])
    table, _, _ = M.contingency(y, pred)
    assert table.tolist() == [[1, 3], [2, 1]]
    # best matching: cluster 1 -> a (3), cluster 0 -> b (2): 5/7
    acc, mapping = M.cluster_accuracy(y, pred, return_mapping=True)
    assert acc == pytest.approx(5 / 7) and mapping == {1: 0, 0: 1}
    prf = M.matched_prf(y, pred)
    # class a: P=3/4, R=3/4; class b: P=2/3, R=2/3
    assert prf["precision"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert prf["recall"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert prf["f1"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert M.purity(y, pred) == pytest.approx(5 / 7)


def test_more_clusters_than_classes():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pred = np.array([0, 0, 2, 2, 1, 1, 1, 1])  # class 0 split in two clusters
    acc, mapping = M.cluster_accuracy(y, pred, return_mapping=True)
    assert acc == pytest.approx(6 / 8)  # one half of class 0 stays unmatched
    assert len(mapping) == 2 and mapping[1] == 1
    assert M.purity(y, pred) == 1.0  # purity does not see the split
    prf = M.matched_prf(y, pred)
    assert prf["recall"] == pytest.approx((0.5 + 1.0) / 2)


def test_fewer_clusters_than_classes_scores_missing_class_zero():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 1, 1, 1])
    assert M.cluster_accuracy(y, pred) == pytest.approx(4 / 6)
    prf = M.matched_prf(y, pred)
    assert prf["recall"] == pytest.approx((1 + 1 + 0) / 3)


def test_purity_tends_to_one_as_k_grows():
    y = np.random.default_rng(1).integers(0, 3, 50)
    assert M.purity(y, np.arange(50)) == 1.0
    assert M.ami(y, np.arange(50)) < 0.1  # chance-corrected metrics are not fooled


def test_nmi_normalisation_is_arithmetic_by_default():
    from sklearn.metrics import normalized_mutual_info_score

    y, p = [0, 0, 1, 1, 2], [0, 1, 1, 1, 2]
    assert M.nmi(y, p) == pytest.approx(normalized_mutual_info_score(y, p, average_method="arithmetic"))
    assert M.nmi(y, p, "geometric") != pytest.approx(M.nmi(y, p))


def test_length_mismatch_and_empty_are_errors():
    with pytest.raises(ValueError, match="differ in length: 3 labels vs 2"):
        M.evaluate([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        M.cluster_accuracy([], [])


def test_summarize_mean_and_sample_std():
    runs = [{"acc": 0.7, "nmi": 0.5}, {"acc": 0.8, "nmi": 0.5}, {"acc": 0.9, "nmi": 0.5}]
    s = M.summarize(runs)
    assert s["acc"][0] == pytest.approx(0.8) and s["acc"][1] == pytest.approx(0.1)
    assert s["nmi"] == (pytest.approx(0.5), 0.0)
    assert M.format_summary(s)["acc"] == "0.800 ± 0.100"
    assert M.summarize([{"acc": 0.5}])["acc"] == (0.5, 0.0)

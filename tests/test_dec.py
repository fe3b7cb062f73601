import numpy as np
import pytest
import torch

from stc_utils import dec


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5]])
    y = np.repeat(np.arange(3), 60)
    return (centers[y] + rng.normal(0, 0.6, (180, 2))).astype(np.float32), y


def test_q_rows_sum_to_one_and_nearer_centroid_gets_more():
    z, _ = _blobs()
    mu = np.array([[0, 0], [4, 0], [2, 3.5]], dtype=np.float32)
    q = dec.soft_assignment(z, mu)
    assert torch.allclose(q.sum(1), torch.ones(len(z)))
    assert (q > 0).all()
    nearest = np.argmin(((z[:, None] - mu[None]) ** 2).sum(-1), axis=1)
    assert np.array_equal(q.argmax(1).numpy(), nearest)


def test_q_matches_the_formula_for_other_alpha():
    z = torch.tensor([[0.0, 1.0]])
    mu = torch.tensor([[0.0, 0.0], [0.0, 3.0]])
    alpha = 2.0
    k = (1 + torch.tensor([1.0, 4.0]) / alpha) ** (-(alpha + 1) / 2)
    assert torch.allclose(dec.soft_assignment(z, mu, alpha)[0], k / k.sum())


def _entropy(p):
    return float(-(p * torch.log(p)).sum(1).mean())


def test_p_is_sharper_than_q():
    z, _ = _blobs()
    q = dec.soft_assignment(z, np.array([[0.5, 0.5], [3.5, 0.5], [2, 3]], dtype=np.float32))
    p = dec.target_distribution(q)
    assert torch.allclose(p.sum(1), torch.ones(len(z)))
    assert _entropy(p) < _entropy(q)
    assert torch.equal(p.argmax(1), q.argmax(1)) or (p.argmax(1) != q.argmax(1)).float().mean() < 0.05


def test_kl_gradients_match_autograd():
    torch.manual_seed(0)
    z = torch.randn(30, 4, dtype=torch.float64, requires_grad=True)
    mu = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    for alpha in (1.0, 2.5):
        with torch.no_grad():
            p = dec.target_distribution(dec.soft_assignment(z, mu, alpha))
        loss = dec.kl_loss(p, dec.soft_assignment(z, mu, alpha), reduction="sum")
        gz, gmu = torch.autograd.grad(loss, (z, mu))
        az, amu = dec.kl_gradients(z.detach(), mu.detach(), p, alpha)
        assert torch.allclose(gz, az, atol=1e-10) and torch.allclose(gmu, amu, atol=1e-10)


def test_kl_is_zero_for_identical_and_positive_otherwise():
    q = torch.tensor([[0.7, 0.3], [0.2, 0.8]])
    assert float(dec.kl_loss(q, q)) == pytest.approx(0.0, abs=1e-7)
    assert float(dec.kl_loss(dec.target_distribution(q), q)) > 0


def test_monitors():
    assert dec.label_change_rate([0, 1, 1, 2], [0, 1, 2, 2]) == 0.25
    assert dec.mean_max_q(torch.tensor([[0.5, 0.5], [1.0, 0.0]])) == 0.75
    assert dec.cluster_size_entropy([0, 0, 1, 1], 2) == pytest.approx(1.0)
    assert dec.cluster_size_entropy([0, 0, 0, 0], 2) == pytest.approx(0.0)


def test_fit_dec_moves_centroids_to_the_blobs_and_repeats_with_the_seed():
    z, y = _blobs()
    start = np.array([[1.0, 1.0], [3.0, 1.0], [2.0, 2.0]], dtype=np.float32)
    a = dec.fit_dec(z, start, steps=300, update_interval=10, batch_size=64, lr=0.05, seed=0)
    b = dec.fit_dec(z, start, steps=300, update_interval=10, batch_size=64, lr=0.05, seed=0)
    assert np.array_equal(a.labels, b.labels) and np.allclose(a.centers, b.centers)
    true_centers = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5]])
    before = np.abs(start - true_centers).sum()
    after = np.abs(a.centers - true_centers).sum()
    assert after < before
    from stc_utils.metrics import cluster_accuracy
    assert cluster_accuracy(y, a.labels) > 0.9
    assert {"loss", "label_change", "mean_max_q", "size_entropy"} <= set(a.history[0])


def test_bad_shapes_and_too_many_clusters():
    with pytest.raises(ValueError, match="same d"):
        dec.soft_assignment(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="larger than the number of texts"):
        dec.fit_dec(np.zeros((2, 2)), np.zeros((3, 2)))

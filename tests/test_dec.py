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


# --------------------------------------------------------------------------- lesson 04 variants


@pytest.fixture
def one_thread():
    """Tiny models: one thread (two oversubscribe a shared 2-core CI machine, ~10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_stop_reason_and_steps_are_recorded(one_thread):
    z, _ = _blobs()
    start = np.array([[0.5, 0.5], [3.5, 0.5], [2.0, 3.0]], dtype=np.float32)
    done = dec.fit_dec(z, start, steps=300, update_interval=10, batch_size=64, lr=0.05, tol=0.01)
    assert done.stop_reason == "tol" and done.steps < 300 and done.steps % 10 == 0
    assert done.history[-1]["label_change"] < 0.01
    full = dec.fit_dec(z, start, steps=40, update_interval=10, batch_size=64, lr=0.05, tol=0.0)
    assert full.stop_reason == "max_steps" and full.steps == 40 and full.history[-1]["step"] == 40


@pytest.mark.filterwarnings("ignore:DEC step")  # the random linear encoder starts with empty clusters
def test_idec_with_gamma_zero_equals_dec_and_gamma_changes_it(one_thread):
    torch.manual_seed(0)
    z, _ = _blobs()
    enc, dec_net = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    start = np.array([[0.5, 0.5], [3.5, 0.5], [2.0, 3.0]], dtype=np.float32)
    kw = dict(steps=60, update_interval=10, batch_size=64, lr=0.05, tol=0.0)
    import copy
    plain = dec.fit_dec(z, start, encoder=copy.deepcopy(enc), **kw)
    zero = dec.fit_dec(z, start, encoder=copy.deepcopy(enc), decoder=copy.deepcopy(dec_net), gamma=0.0, **kw)
    idec = dec.fit_dec(z, start, encoder=copy.deepcopy(enc), decoder=copy.deepcopy(dec_net), gamma=1.0, **kw)
    assert np.array_equal(plain.labels, zero.labels) and np.allclose(plain.centers, zero.centers)
    assert not np.allclose(plain.centers, idec.centers)
    assert idec.history[-1]["recon"] < idec.history[0]["recon"]  # the decoder learns


def test_attention_assignment_matches_its_formula():
    torch.manual_seed(0)
    z, mu = torch.randn(5, 4), torch.randn(3, 4)
    expected = torch.softmax(z @ mu.T / 2.0, dim=1)
    assert torch.allclose(dec.attention_assignment(z, mu), expected)
    head = dec.ClusteringLayer(mu, assignment="attention")
    assert torch.allclose(head(z), expected)


def test_origin_assignment_is_the_references_compute_q_origin_paper():
    """The reference's loop, written the way it is (expand, torch.norm, /v, pow, divide, softmax)."""
    torch.manual_seed(0)
    z, mu = torch.randn(6, 4), torch.randn(3, 4)
    temp = torch.sub(z.unsqueeze(dim=1).expand(-1, 3, -1), mu)
    numerator = torch.pow(torch.add(1, torch.norm(temp, dim=-1) / 1), -(1 + 1) / 2)
    expected = torch.softmax(numerator / numerator.sum(1, keepdim=True), dim=-1)
    assert torch.allclose(dec.origin_assignment(z, mu), expected, atol=1e-6)
    assert torch.allclose(dec.ClusteringLayer(mu, assignment="reference_origin")(z), expected, atol=1e-6)
    assert (expected.max(1).values < 0.5).all()  # the softmax of numbers in (0, 1): near uniform at K = 3


def test_reference_variants_compare_softmaxed_p_with_q_as_written(one_thread, monkeypatch):
    """reference_attention: KL(softmax(P) || q), q softmaxed once; the course's "attention": softmax on both."""
    z, _ = _blobs()
    start = np.array([[1.0, 1.0], [3.0, 1.0], [2.0, 2.0]], dtype=np.float32)
    seen, real_kl = {}, dec.kl_loss
    for assignment in ("attention", "reference_attention", "reference_origin"):
        calls = []
        monkeypatch.setattr(dec, "kl_loss", lambda p, q, **kw: calls.append((p.detach(), q.detach())) or real_kl(p, q, **kw))
        dec.fit_dec(z, start, assignment=assignment, target="batch", steps=1, update_interval=10, batch_size=32, tol=0.0)
        seen[assignment] = calls[1]  # calls[0]: the monitor over all texts; calls[1]: the first step's batch
    p, q = seen["reference_attention"]
    assert torch.allclose(p, torch.softmax(dec.target_distribution(q), dim=1), atol=1e-6)
    p2, q2 = seen["attention"]  # same batch (same seed): q2 is the softmax of reference_attention's q
    assert torch.allclose(q2, torch.softmax(q, dim=1), atol=1e-6) and torch.allclose(p2, p, atol=1e-6)
    p3, q3 = seen["reference_origin"]
    assert torch.allclose(p3, torch.softmax(dec.target_distribution(q3), dim=1), atol=1e-6)


def test_variants_run_and_differ_from_the_paper_version(one_thread):
    z, y = _blobs()
    start = np.array([[1.0, 1.0], [3.0, 1.0], [2.0, 2.0]], dtype=np.float32)
    kw = dict(steps=100, update_interval=10, batch_size=64, lr=0.05, tol=0.0)
    paper = dec.fit_dec(z, start, **kw)
    batch = dec.fit_dec(z, start, target="batch", **kw)
    attention = dec.fit_dec(z, start, assignment="attention", **kw)
    assert not np.allclose(paper.centers, batch.centers)
    assert not np.allclose(paper.centers, attention.centers)
    assert len(batch.history) == len(paper.history)  # monitoring still over the whole dataset
    with pytest.raises(ValueError, match="unknown target"):
        dec.fit_dec(z, start, target="epoch")
    with pytest.raises(ValueError, match="unknown assignment"):
        dec.fit_dec(z, start, assignment="gaussian")
    with pytest.raises(ValueError, match="gamma"):
        dec.fit_dec(z, start, gamma=-1.0)


def test_a_cluster_that_empties_is_warned_about_without_labels(one_thread):
    z, _ = _blobs()
    start = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5], [100.0, 100.0]], dtype=np.float32)
    with pytest.warns(UserWarning, match=r"cluster 3 is empty, below 1% of the data"):
        dec.fit_dec(z, start, steps=20, update_interval=10, batch_size=64)
    small = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5], [4.8, 0.8]], dtype=np.float32)
    with pytest.warns(UserWarning, match=r"cluster 3 holds \d+ points"):
        dec.fit_dec(z, small, steps=0, min_share=0.2)


def test_steps_counts_optimiser_steps_when_not_a_multiple_of_the_update_interval(one_thread):
    """25 steps with a target update every 10: 25 optimiser steps, not 26 (regression)."""
    z, _ = _blobs()
    start = np.array([[0.5, 0.5], [3.5, 0.5], [2.0, 3.0]], dtype=np.float32)

    class Counting(torch.nn.Identity):
        calls = 0

        def forward(self, x):
            Counting.calls += self.training  # training forwards only: one per optimiser step
            return x

    result = dec.fit_dec(z, start, encoder=Counting(), steps=25, update_interval=10, batch_size=64, lr=0.05, tol=0.0)
    assert Counting.calls == 25 and result.steps == 25 and result.stop_reason == "max_steps"
    assert [h["step"] for h in result.history] == [0, 10, 20]


def test_adam_optimiser_option(one_thread):
    """``optimizer="adam"`` (Self-Train's torchSTC) trains too and differs from SGD; a typo is refused."""
    z, _ = _blobs()
    start = np.array([[0.5, 0.5], [3.5, 0.5], [2.0, 3.0]], dtype=np.float32)
    kw = dict(steps=40, update_interval=10, batch_size=64, tol=0.0)
    sgd = dec.fit_dec(z, start, lr=0.05, **kw)
    adam = dec.fit_dec(z, start, lr=0.05, optimizer="adam", **kw)
    assert not np.allclose(sgd.centers, adam.centers) and not np.allclose(adam.centers, start)
    with pytest.raises(ValueError, match="optimizer"):
        dec.fit_dec(z, start, optimizer="adamw", **kw)

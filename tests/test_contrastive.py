"""stc_utils.contrastive (lesson 05): InfoNCE, augmentation, purity, the semi-supervised loop, bad input."""

import math
import os
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import homogeneity_score

from stc_utils import contrastive as C
from stc_utils import dec
from stc_utils import embed

_SHARED_NLTK = Path(__file__).resolve().parent.parent.parent / "shared" / "nltk_data"
if not os.environ.get("NLTK_DATA") and _SHARED_NLTK.is_dir():
    import nltk

    nltk.data.path.append(str(_SHARED_NLTK))


def _has_wordnet() -> bool:
    try:
        C._wordnet()
        return True
    except LookupError:
        return False


needs_wordnet = pytest.mark.skipif(not _has_wordnet(), reason="needs WordNet (set NLTK_DATA)")

REVIEWS = {
    0: ["The battery died after two days, a total waste of money.", "Broke the first time I used it.",
        "Terrible sound and the charger stopped working.", "Awful build quality, it cracked in a week.",
        "The screen flickers constantly and support never answered.", "Worst headphones I have ever bought."],
    1: ["It does what it says, nothing more.", "Average camera, fine for the price.",
        "The case is okay but the colour is duller than pictured.", "Delivery was on time and the box was plain.",
        "Battery life is acceptable for a day of light use.", "A standard keyboard with ordinary keys."],
    2: ["Fantastic battery life and a gorgeous screen.", "Great sound, I love these headphones.",
        "Excellent build quality, it feels premium.", "Superb camera, the photos look amazing.",
        "Wonderful keyboard, typing is a real pleasure.", "Brilliant charger, fast and reliable."],
}
TEXTS = [t for c in REVIEWS for t in REVIEWS[c]]
TRUTH = np.repeat(list(REVIEWS), 6)
LABELS = [int(c) if i % 6 < 3 else None for i, c in enumerate(TRUTH)]  # 3 labelled per class
TINY = dict(max_rounds=2, init_epochs=1, batch_size=8, precision="fp32")


# --------------------------------------------------------------------------- InfoNCE


def _nt_xent_loop(z1, z2, t):
    z = F.normalize(torch.cat([z1, z2]).double(), dim=1)
    n, total = len(z1), 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        sims = {k: float(z[i] @ z[k]) / t for k in range(2 * n) if k != i}
        total += -math.log(math.exp(sims[pos]) / sum(math.exp(s) for s in sims.values()))
    return total / (2 * n)


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
def test_info_nce_matches_brute_force_and_cross_entropy(t):
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    loss = C.info_nce(z1, z2, t)
    assert float(loss) == pytest.approx(_nt_xent_loop(z1, z2, t), rel=1e-5)
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)  # torch's form, written separately
    logits = torch.cat([torch.cat([a @ a.T, a @ b.T], 1), torch.cat([b @ a.T, b @ b.T], 1)]) / t
    logits.fill_diagonal_(-1e9)
    target = torch.tensor([5, 6, 7, 8, 9, 0, 1, 2, 3, 4])
    assert float(loss) == pytest.approx(float(F.cross_entropy(logits, target)), rel=1e-5)


def test_info_nce_is_a_log_probability_and_prefers_aligned_views():
    z = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    aligned = C.info_nce(z, z + 0.01, 0.5)
    shuffled = C.info_nce(z, z[torch.arange(7, -1, -1)], 0.5)
    assert 0 < float(aligned) < float(shuffled)  # the positive is in the denominator: loss > 0
    assert float(C.info_nce(z, z, 0.5)) > 0


def test_info_nce_refuses_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        C.info_nce(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="n >= 2"):
        C.info_nce(torch.zeros(1, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="temperature"):
        C.info_nce(torch.zeros(2, 2), torch.zeros(2, 2), 0.0)


# --------------------------------------------------------------------------- augmentation

LONG = ("happy car quick house large answer begin small river strong bright cold fast angry dog teacher "
        "road town big calm soft loud rich dark heavy simple clean young old early")  # 30 words


@needs_wordnet
def test_synonym_augment_is_deterministic_per_seed():
    a, b = C.synonym_augment(LONG, 0.2, seed=3), C.synonym_augment(LONG, 0.2, seed=3)
    assert a == b != LONG
    assert C.synonym_augment(LONG, 0.2, seed=4) != a
    assert C.synonym_augment("Hello world", 0.0, seed=0) == "Hello world"


@needs_wordnet
@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5])
def test_synonym_augment_rate(rate):
    for seed in range(3):
        out = C.synonym_augment(LONG, rate, seed=seed)
        kept = SequenceMatcher(None, LONG.split(), out.split()).get_matching_blocks()
        changed = 30 - sum(block.size for block in kept)  # synonyms may be two words ("start out")
        assert changed == round(rate * 30), (rate, seed, out)


@needs_wordnet
def test_synonym_augment_keeps_stop_words_and_refuses_bad_rate():
    assert C.synonym_augment("the and of to in", 1.0, seed=0) == "the and of to in"
    assert C.synonym_augment("a happy dog", 0.1, seed=0) != "a happy dog"  # at least one word
    with pytest.raises(ValueError, match="rate"):
        C.synonym_augment("a happy dog", 1.5)


# --------------------------------------------------------------------------- purity


def test_purity_count_and_surrogate_agree_on_hard_assignments():
    rng = np.random.default_rng(0)
    for _ in range(20):
        labels, clusters = rng.integers(0, 3, 30), rng.integers(0, 4, 30)
        q = F.one_hot(torch.as_tensor(clusters), 4).double()
        surrogate = float(C.purity_loss(q, torch.as_tensor(labels), 3))
        count = C.purity_count(labels, clusters)
        assert (surrogate < 1e-9) == (count == 0)
        h_y = -sum(p * math.log(p) for p in np.bincount(labels) / 30 if p > 0)  # H(Y|K) = H(Y)(1 - homogeneity)
        assert surrogate == pytest.approx(h_y * (1 - homogeneity_score(labels, clusters)), abs=1e-9)
    pure = np.array([0, 0, 1, 1, 2, 2])
    assert C.purity_count(pure, pure) == 0
    assert C.purity_count(pure, np.zeros(6)) == 2  # one cluster, three labels: penalised 2
    assert C.purity_count(pure, np.array([0, 0, 0, 0, 1, 1])) == 1


def test_purity_surrogate_has_a_gradient_the_count_has_none():
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0)).requires_grad_()
    loss = C.purity_loss(torch.softmax(logits, 1), torch.tensor([0, 0, 1, 1, 2, 2]), 3)
    (grad,) = torch.autograd.grad(loss, logits)
    assert grad.abs().sum() > 0
    counted = torch.tensor(float(C.purity_count([0, 0, 1, 1, 2, 2], torch.softmax(logits, 1).argmax(1).numpy())))
    assert not counted.requires_grad
    mixed = [C.purity_loss(torch.ones(m, 1), torch.arange(m), m) for m in (1, 2, 3)]  # more labels, more loss
    assert float(mixed[0]) == 0 and float(mixed[0]) < float(mixed[1]) < float(mixed[2])


# --------------------------------------------------------------------------- encoder and the loop


def test_top_trained_encoder_matches_embed_texts():
    enc = C.TopTrainedEncoder(precision="fp32")
    mine = enc.embed(TEXTS[:5]) / enc.scale
    ref = embed.embed_texts(TEXTS[:5], precision="fp32", max_length=64, progress=False)
    assert np.abs(mine - ref).max() < 1e-5
    trainable = {n.split(".")[2] for n, p in enc.bert.named_parameters() if p.requires_grad}
    assert trainable == {"5"}  # only the top layer of the 6 learns


def test_frozen_states_cache_is_the_callers():
    """Without a cache each encoder keeps its own; a dict passed in is filled and reused by another encoder."""
    cache = {}
    first = C.TopTrainedEncoder(precision="fp32", cache=cache).frozen(TEXTS[:4])
    assert len(cache) == 4 and C.TopTrainedEncoder(precision="fp32").cache == {}
    again = C.TopTrainedEncoder(precision="fp32", cache=cache)
    assert all(a is b for a, b in zip(first, again.frozen(TEXTS[:4])))  # taken from the cache, not recomputed
    with pytest.raises(ValueError, match="use one of fp32, bf16, fp16"):
        C.TopTrainedEncoder(precision="int8")


def test_batches_keep_a_last_text_alone_with_the_one_before():
    sizes = [len(b) for b in C._batches(np.arange(129), 64)]
    assert sizes == [64, 65] and [len(b) for b in C._batches(np.arange(130), 64)] == [64, 64, 2]
    assert sorted(np.concatenate(C._batches(np.arange(129), 64))) == list(range(129))


def test_fit_dof_makes_q_confident_where_alpha_one_is_near_uniform():
    """Vectors of length sqrt(d) around 20 centroids: at alpha = 1 q is close to uniform and KL(P||Q)
    is small; the fitted degrees of freedom give a confident q and the largest KL of the grid."""
    g = torch.Generator().manual_seed(0)
    mu = F.normalize(torch.randn(20, 384, generator=g), dim=1) * 384 ** 0.5
    z = F.normalize(mu.repeat(10, 1) + 1.2 * torch.randn(200, 384, generator=g), dim=1) * 384 ** 0.5
    q1 = dec.soft_assignment(z, mu, 1.0)
    dof = dec.fit_dof(z, mu)
    q = dec.soft_assignment(z, mu, dof)
    assert dec.mean_max_q(q1) < 0.15 and dof > 1 and dec.mean_max_q(q) > 0.3
    kl = {a: float(dec.kl_loss(dec.target_distribution(dec.soft_assignment(z, mu, a)), dec.soft_assignment(z, mu, a)))
          for a in dec.DOF_GRID}
    assert max(kl, key=kl.get) == dof and kl[dof] > 3 * kl[1.0]
    assert torch.equal(q.argmax(1), q1.argmax(1))  # the nearest centroid wins whatever the degrees of freedom


def test_start_classifier_chooses_c_by_cross_validation_on_l():
    x, y = torch.randn(60, 5, generator=torch.Generator().manual_seed(0)).numpy(), np.repeat([0, 1, 2], 20)
    x[:, 0] += 3 * y
    lr = C.start_classifier(x, y, seed=0)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    loss = {c: cross_val_score(LogisticRegression(C=c, max_iter=2000), x, y, cv=cv, scoring="neg_log_loss").mean()
            for c in C.C_GRID}
    assert lr.C == max(loss, key=loss.get) and lr.score(x, y) > 0.9  # the best cross-validated log loss
    single = C.start_classifier(x[[0, 20, 40, 41]], y[[0, 20, 40, 41]])  # one text in some class: C = 1
    assert single.C == 1.0


@needs_wordnet
def test_fit_semisupervised_end_to_end_and_deterministic():
    r = C.fit_semisupervised(TEXTS, LABELS, seed=0, **TINY)
    assert r.labels.shape == (18,) and set(r.labels) <= {0, 1, 2} and r.clusters.shape == (18,)
    assert len(r.v1) == 3 and all(LABELS[i] is not None for i in r.v1)  # one per class held out
    assert np.array_equal(r.v1, C.holdout_split(LABELS, 0.2, seed=0)[0])  # baselines can share V1
    assert r.history[0]["round"] == 0 and r.history[0]["labelled"] == 6 and r.history[0]["pool"] == 9
    assert {"loss", "info_nce", "kl", "ce", "purity", "purity_count", "pool", "added", "dof"} <= set(r.history[1])
    assert r.dof in dec.DOF_GRID and r.history[1]["mean_max_q"] > 1 / 3
    assert r.stop_reason in {"pool_empty", "max_rounds", "loss_plateau"}
    moved = sum(len(p["index"]) for p in r.pseudo)
    assert r.history[-1]["labelled"] == 6 + moved and all(LABELS[i] is None for p in r.pseudo for i in p["index"])
    again = C.fit_semisupervised(TEXTS, LABELS, seed=0, **TINY)
    assert np.array_equal(r.labels, again.labels) and np.array_equal(r.clusters, again.clusters)
    assert np.array_equal(r.predict(TEXTS), r.labels)


@needs_wordnet
def test_fit_unsupervised_is_sccl_mode():
    r = C.fit_semisupervised(TEXTS, [None] * 18, n_clusters=3, seed=0, **TINY)
    assert r.classes is None and np.array_equal(r.labels, r.clusters) and len(r.v1) == 0
    assert "ce" not in r.history[-1] and r.history[-1]["purity_count"] is None
    assert np.isfinite(r.history[-1]["info_nce"]) and r.history[0]["round"] == 1
    old = C.fit_semisupervised(TEXTS, [None] * 18, n_clusters=3, seed=0, target="round", dof=1.0, centers="refit", **TINY)
    assert old.dof == 1.0 and old.history[0]["dof"] == 1.0


def test_target_round_feeds_the_kl_the_round_p_and_batch_its_own(monkeypatch):
    """target="round" must hand the KL rows of P sharpened over all of L + N at the round's start,
    target="batch" P sharpened over the batch alone: different matrices (05c found equal labels)."""
    seen, real_kl, real_target = {}, dec.kl_loss, dec.target_distribution

    def record(mode):
        calls = []
        monkeypatch.setattr(dec, "kl_loss", lambda p, q: calls.append(("kl", p.detach().clone())) or real_kl(p, q))
        monkeypatch.setattr(dec, "target_distribution",
                            lambda q: calls.append(("target", q.shape[0])) or real_target(q))
        C.fit_semisupervised(TEXTS, LABELS, seed=0, target=mode, dof=10.0,  # no fit_dof: its grid calls both
                               **{**TINY, "max_rounds": 1, "batch_size": 4})
        seen[mode] = calls

    record("batch"), record("round")
    kl_batch = [p for kind, p in seen["batch"] if kind == "kl"]
    kl_round = [p for kind, p in seen["round"] if kind == "kl"]
    assert len(kl_batch) == len(kl_round) > 1
    # batch: one sharpening over all texts (the round's), then one per batch; round: only the first
    assert [n for kind, n in seen["batch"] if kind == "target"][1:] == [len(p) for p in kl_batch]
    assert [n for kind, n in seen["round"] if kind == "target"] == [15]  # L + N: 18 texts less V1's 3
    for p in kl_batch + kl_round:
        assert torch.allclose(p.sum(1), torch.ones(len(p)), atol=1e-5)
    first_batch, first_round = kl_batch[0], kl_round[0]  # same seed: same first batch of texts
    assert first_batch.shape == first_round.shape and not torch.allclose(first_batch, first_round, atol=1e-4)


@pytest.mark.parametrize("labels, kwargs, message", [
    (LABELS[:-1], {}, "one per text"),
    ([0, 0, 1] + [None] * 15, {}, "too few labelled texts"),
    (list(TRUTH), {}, "no unlabelled texts"),
    (LABELS, {"n_clusters": 2}, "smaller than the number of labelled classes"),
    ([None] * 18, {}, "give n_clusters"),
    (["good"] + LABELS[1:], {}, "integer class ids"),
    ([0.5] + LABELS[1:], {}, "integer class ids"),
    (LABELS, {"device": "tpu"}, "unknown device"),
    (LABELS, {"threshold": 0.0}, "threshold"),
    (LABELS, {"centers": "kmeans"}, "centers 'learned' or 'refit'"),
    (LABELS, {"dof": 0}, "dof 'auto' or a positive number"),
])
def test_fit_refuses_bad_input(labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        C.fit_semisupervised(TEXTS, labels, **kwargs)


def test_fit_refuses_bad_texts():
    with pytest.raises(ValueError, match="empty"):
        C.fit_semisupervised(TEXTS[:-1] + [" "], LABELS)

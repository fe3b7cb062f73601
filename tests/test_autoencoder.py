"""Autoencoder pretraining and the saved DEC pipeline, on real SearchSnippets texts and MiniLM."""

import numpy as np
import pytest
import torch

from stc_utils.autoencoder import (
    Autoencoder, DECModel, ModelMismatchError, check_inputs, embedding_info,
    input_scale, kmeans_centers, pretrain_autoencoder, resolve_dims,
)
from stc_utils.runner import compare_methods
from stc_utils.cluster import kmeans
from stc_utils.dec import fit_dec

from conftest import needs_data

FAST_DEC = {"steps": 150, "update_interval": 30, "batch_size": 64}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small models: one thread (two oversubscribe a shared 2-core CI machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def snippets(_one_thread):
    from stc_utils.data import load_dataset
    from stc_utils.embed import embed_texts

    ds = load_dataset("searchsnippets", n=300, seed=0)
    return ds, embed_texts(ds.texts, cache=False, progress=False)


def _blobs(n=240, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (4, d))
    y = np.repeat(np.arange(4), n // 4)
    return (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32), y


def test_dims_presets_and_architecture():
    assert resolve_dims("dec", 384) == [384, 500, 500, 2000, 10]
    assert resolve_dims("small", 48) == [48, 256, 32]
    ae = Autoencoder([16, 8, 3])
    assert [m.out_features for m in ae.encoder if isinstance(m, torch.nn.Linear)] == [8, 3]
    assert [m.out_features for m in ae.decoder if isinstance(m, torch.nn.Linear)] == [8, 16]
    assert not isinstance(ae.encoder[-1], torch.nn.ReLU)  # linear bottleneck
    assert not isinstance(ae.decoder[-1], torch.nn.ReLU)  # linear output
    x, _ = _blobs()
    z = Autoencoder([16, 8, 3], bottleneck="sigmoid").encode(x)
    assert z.shape == (240, 3) and (z > 0).all() and (z < 1).all()


def test_pretraining_lowers_the_loss_and_repeats_with_the_seed():
    x, _ = _blobs()
    a, hist = pretrain_autoencoder(x, [16, 32, 4], epochs=10, batch_size=32, seed=3, progress=False)
    b, _ = pretrain_autoencoder(x, [16, 32, 4], epochs=10, batch_size=32, seed=3, progress=False)
    c, _ = pretrain_autoencoder(x, [16, 32, 4], epochs=10, batch_size=32, seed=4, progress=False)
    assert len(hist) == 11 and hist[-1] < 0.5 * hist[0]
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.encoder[0].weight, c.encoder[0].weight)
    d, _ = pretrain_autoencoder(x, [16, 32, 4], epochs=3, dropout=0.2, seed=3, progress=False)
    e, _ = pretrain_autoencoder(x, [16, 32, 4], epochs=3, dropout=0.2, seed=3, progress=False)
    assert torch.equal(d.encoder[0].weight, e.encoder[0].weight)  # denoising is seeded too


def test_input_scale_is_decs_normalisation():
    x, _ = _blobs()
    s = input_scale(x)
    assert np.mean(((s * x) ** 2).sum(1) / x.shape[1]) == pytest.approx(1.0, rel=1e-5)


def test_bad_inputs_get_clear_errors():
    x, _ = _blobs()
    with pytest.raises(ValueError, match="does not match the input dimension 16"):
        pretrain_autoencoder(x, [100, 8], epochs=1, progress=False)
    bad = x.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values in 1 row"):
        pretrain_autoencoder(bad, "small", epochs=1, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        fit_dec(bad, x[:4])
    with pytest.raises(ValueError, match="2-D"):
        check_inputs(x[0])
    with pytest.raises(ValueError, match="larger than the number of texts"):
        DECModel.fit(x[:5], n_clusters=10, dims=[16, 4], ae_epochs=1)
    with pytest.raises(ValueError, match="unknown dims preset"):
        resolve_dims("huge", 16)
    with pytest.raises(ValueError, match="bottleneck"):
        Autoencoder([16, 4], bottleneck="tanh")
    ae = Autoencoder([16, 8, 4])
    with pytest.raises(ValueError, match="this autoencoder expects 16"):
        ae.encode(x[:, :10])
    with pytest.raises(ValueError, match="encoder outputs 4"):
        fit_dec(x, np.zeros((3, 5), np.float32), encoder=ae.encoder)
    with pytest.raises(ValueError, match="needs a decoder"):
        fit_dec(x, kmeans_centers(ae.encode(x), 3)[0], encoder=ae.encoder, gamma=1.0)


@needs_data
def test_same_seed_same_labels_on_real_texts(snippets):
    ds, x = snippets
    runs = [DECModel.fit(x, ds.n_classes, dims="small", ae_epochs=5, seed=1, **FAST_DEC)[1] for _ in range(2)]
    assert np.array_equal(runs[0].labels, runs[1].labels)
    assert np.array_equal(runs[0].centers, runs[1].centers)
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]
    assert len(np.unique(runs[0].labels)) > 1


@needs_data
def test_save_load_predict_gives_the_trained_labels(snippets, tmp_path):
    ds, x = snippets
    model, result = DECModel.fit(x, ds.n_classes, dims="small", ae_epochs=5, seed=0,
                                 embedding=embedding_info(), **FAST_DEC)
    path = model.save(tmp_path / "dec.pt")
    loaded = DECModel.load(path)
    assert np.array_equal(loaded.predict(ds.texts, cache=False), result.labels)
    assert np.array_equal(model.predict_embeddings(x), result.labels)
    assert loaded.embedding["max_length"] == 128 and loaded.embedding["pooling"] == "mean"
    new = loaded.predict(["cheap flights to rome", "protein folding with deep learning"], cache=False)
    assert new.shape == (2,) and set(new) <= set(range(ds.n_classes))


@needs_data
def test_a_different_embedding_model_is_refused(snippets, tmp_path):
    ds, x = snippets
    model, _ = DECModel.fit(x[:100], 4, dims="small", ae_epochs=1, seed=0, embedding=embedding_info(), steps=10)
    model.embedding["identity"] = "sha256:0000"
    DECModel.load(model.save(tmp_path / "dec.pt"))
    with pytest.raises(ModelMismatchError, match=r"identity sha256:0000.*install the same model or retrain"):
        DECModel.load(tmp_path / "dec.pt").predict(ds.texts[:3], cache=False)
    torch.save({"format": 99}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a DEC model saved by this version"):
        DECModel.load(tmp_path / "other.pt")


@needs_data
def test_idec_with_gamma_zero_is_dec_and_the_stop_reason_is_recorded(snippets):
    ds, x = snippets
    base, _ = DECModel.fit(x, ds.n_classes, dims="small", ae_epochs=3, seed=0, steps=0)
    xs = x * base.scale
    runs = {}
    for name, gamma in [("dec", None), ("idec0", 0.0), ("idec", 1.0)]:
        ae = base.copy().autoencoder
        decoder = None if gamma is None else ae.decoder
        runs[name] = fit_dec(xs, base.centers, encoder=ae.encoder, decoder=decoder, gamma=gamma or 0.0,
                             tol=0.0, seed=0, **FAST_DEC)
    assert np.array_equal(runs["dec"].labels, runs["idec0"].labels)
    assert np.allclose(runs["dec"].centers, runs["idec0"].centers, atol=1e-6)
    assert not np.allclose(runs["dec"].centers, runs["idec"].centers)  # the term is wired in
    assert "recon" in runs["idec"].history[-1]
    assert runs["dec"].stop_reason == "max_steps" and runs["dec"].steps == FAST_DEC["steps"]
    stopped = fit_dec(xs, base.centers, encoder=base.copy().autoencoder.encoder, tol=0.5, seed=0, **FAST_DEC)
    assert stopped.stop_reason == "tol" and stopped.steps < FAST_DEC["steps"]
    assert stopped.history[-1]["label_change"] < 0.5


@needs_data
@pytest.mark.filterwarnings("ignore:DEC step")  # 30 steps on 300 texts may leave a tiny cluster
def test_compare_methods_rows(snippets):
    ds, x = snippets
    settings = {"ae_epochs": 2, "max_steps": 30, "update_interval": 10, "n_init": 2}
    rows = compare_methods(x, ds.labels, ds.n_classes, seed=0, settings=settings)
    assert [r["method"] for r in rows] == ["kmeans", "ae_kmeans", "dec", "idec"]
    for r in rows:
        assert 0 < r["acc"] <= 1 and -1 <= r["ari"] <= 1 and r["seconds"] >= 0
    assert rows[2]["stop_reason"] in {"tol", "max_steps"} and rows[0]["stop_reason"] is None


def test_self_train_options_and_frozen_decoder(snippets):
    """fit_self_train: the reference code's options (min-max inputs, LeakyReLU, Adam) run; the decoder never moves."""
    from stc_utils.autoencoder import SELF_TRAIN_SIF, fit_self_train, minmax_scale
    from stc_utils.data import load_word2vec
    from stc_utils.embed import sif_embed, tokenize

    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 0.0], [2.0, 5.0, 1.0]], dtype=np.float32)
    assert np.allclose(minmax_scale(x), [[0, 0, 1], [1, 0, 0], [0.5, 0, 0.5]])
    assert resolve_dims("stc", 48) == [48, 500, 500, 2000, 20]
    ds, _ = snippets
    x_w2v = sif_embed([tokenize(t) for t in ds.texts], load_word2vec("searchsnippets"), **SELF_TRAIN_SIF)
    ref = {"dims": [48, 32, 8], "activation": "leaky_relu", "scaling": "minmax", "dec_optimizer": "adam",
           "dec_lr": 1e-3, "ae_epochs": 2, "batch_size": 64, "max_steps": 20, "update_interval": 10, "n_init": 2,
           "final_n_init": 2}
    labels, result, info = fit_self_train(x_w2v, ds.n_classes, seed=0, settings=ref)
    assert labels.shape == (len(ds),) and result.steps == 20 and len(info["start_labels"]) == len(ds)
    assert np.array_equal(labels, result.labels)  # the default labels: DEC's argmax q, as Hadifar et al.'s code
    by_kmeans, _, kinfo = fit_self_train(x_w2v, ds.n_classes, seed=0, settings={**ref, "final": "kmeans"})
    codes = kinfo["model"].autoencoder.encode(minmax_scale(x_w2v))
    assert np.array_equal(by_kmeans, kmeans(codes, ds.n_classes, seed=0, n_init=2))  # torchSTC's README: K-means
    ae = info["model"].autoencoder
    assert isinstance(ae.encoder[1], torch.nn.LeakyReLU)
    assert all(torch.equal(a, b) for a, b in zip(ae.decoder.state_dict().values(), info["decoder"].values()))
    again, _, _ = fit_self_train(x_w2v, ds.n_classes, seed=0, settings=ref)
    assert np.array_equal(labels, again)
    with pytest.raises(ValueError, match="scaling"):
        fit_self_train(x_w2v, ds.n_classes, settings={**ref, "scaling": "l2"})
    rows = compare_methods(None, ds.labels, ds.n_classes, methods=("self_train",), x_w2v=x_w2v,
                           settings={"ae_epochs": 2, "max_steps": 20, "update_interval": 10, "n_init": 2})
    assert rows[0]["method"] == "self_train" and 0 < rows[0]["acc"] <= 1 and rows[0]["steps"] == 20

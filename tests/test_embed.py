import numpy as np
import pytest

from stc_utils import embed
from stc_utils.embed import ModelNotAvailableError, embed_texts

TEXTS = [
    "How do I create a branch in SVN?",
    "Best Subversion clients for Windows Vista (64bit)",
    "Starting MATLAB from the command line",
    "How to plot a matrix in matlab",
    "What is the simplest way to write web apps in Haskell?",
]


def test_default_model_is_the_verified_bundled_minilm():
    folder = embed.default_model_path()
    assert (folder / "model.safetensors").is_file()
    enc = embed.load_encoder()
    assert enc.identity == f"sha256:{embed.DEFAULT_MODEL_SHA256}"
    assert enc.dim == 384 and enc.model.config.num_hidden_layers == 6


def test_mean_pooling_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(embed.default_model_path()), device="cpu").encode(
        TEXTS, normalize_embeddings=True)
    mine = embed_texts(TEXTS, max_length=256, precision="fp32", cache=False)
    assert mine.shape == (5, 384) and mine.dtype == np.float32
    cos = (mine * ref).sum(1)
    assert cos.min() > 0.9999


def test_poolings_differ_and_are_normalised():
    vecs = {p: embed_texts(TEXTS, pooling=p, cache=False) for p in embed.POOLINGS}
    for v in vecs.values():
        assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vecs["mean"], vecs["cls"])
    assert not np.allclose(vecs["cls"], vecs["pooler"])
    raw = embed_texts(TEXTS, normalize=False, cache=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)


def test_batching_by_length_does_not_change_vectors():
    one = embed_texts(TEXTS, batch_size=1, precision="fp32", cache=False)
    many = embed_texts(TEXTS, batch_size=4, precision="fp32", cache=False)
    assert np.allclose(one, many, atol=1e-5)


def test_cache_hit_returns_identical_array_without_running_the_model(monkeypatch):
    cold = embed_texts(TEXTS)
    def boom(*args, **kwargs):
        raise AssertionError("the model ran on a cache hit")
    monkeypatch.setattr(embed, "_bert_forward", boom)
    warm = embed_texts(TEXTS)
    assert np.array_equal(cold, warm)
    with pytest.raises(AssertionError, match="model ran"):
        embed_texts(TEXTS, max_length=16)  # another key: a miss


def test_cache_key_depends_on_settings_and_texts(tmp_path):
    embed_texts(TEXTS)
    embed_texts(TEXTS, pooling="cls")
    embed_texts(TEXTS[:4])
    files = list((embed.cache_dir() / "embeddings").glob("*.npy"))
    assert len(files) == 3


def test_same_seed_same_cpu_same_vectors():
    a = embed_texts(TEXTS, cache=False)
    b = embed_texts(TEXTS, cache=False)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("bad, match", [
    ([], "no texts"),
    (["ok", "  "], "1 empty or whitespace-only"),
    ("a single string", "list of strings"),
    (["ok", None], "must be strings"),
])
def test_bad_texts_are_refused(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        embed_texts(bad)


def test_bad_options():
    with pytest.raises(ValueError, match="unknown pooling"):
        embed_texts(TEXTS, pooling="max")
    with pytest.raises(ValueError, match="unknown precision"):
        embed_texts(TEXTS, precision="int4")


def test_unknown_model_offline_is_a_clear_error():
    with pytest.raises(ModelNotAvailableError, match="cannot load the model 'no-such-org/no-such-bert'"):
        embed_texts(TEXTS, model="no-such-org/no-such-bert")


def test_local_folder_model_identity_is_its_weights_hash():
    enc = embed.load_encoder(str(embed.default_model_path()))
    assert enc.identity == f"sha256:{embed.DEFAULT_MODEL_SHA256}"


# ---------------------------------------------------------------- Word2Vec and TF-IDF


def _toy_vectors():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["svn", "branch", "matlab", "plot", "the"],
                   np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.5, 0.5]], dtype=np.float32))
    return kv


def test_w2v_average_and_oov():
    kv = _toy_vectors()
    toks = [["SVN", "branch", "zzz"], ["matlab", "plot"], ["zzz"]]
    avg = embed.w2v_average(toks, kv)
    assert np.allclose(avg[0], [0.95, 0.05]) and np.allclose(avg[1], [0.05, 0.95])
    assert np.allclose(avg[2], 0)  # all OOV -> zeros
    assert embed.oov_rate(toks, kv) == pytest.approx(2 / 6)


def test_sif_weights_frequent_words_down_and_removes_first_component():
    kv = _toy_vectors()
    toks = [["the", "svn"], ["the", "matlab"], ["the", "branch"], ["the", "plot"]]
    sif = embed.sif_embed(toks, kv, a=1e-3, remove_pc=False)
    avg = embed.w2v_average(toks, kv)
    # "the" (p=1/2) gets weight ~0.002, the others (p=1/8) ~0.008: SIF leans to the content word
    assert np.linalg.norm(sif[0] - [1, 0]) < np.linalg.norm(avg[0] - [1, 0])
    full = embed.sif_embed(toks, kv, a=1e-3)
    from sklearn.decomposition import TruncatedSVD
    u = TruncatedSVD(1, random_state=0).fit(sif).components_[0]
    assert np.allclose(full @ u, 0, atol=1e-5)


def test_sif_paper_variant_divides_by_word_count_and_removes_the_centred_component():
    kv = _toy_vectors()
    toks = [["the", "svn"], ["the", "matlab"], ["the", "branch", "plot"], ["svn"]]
    freq = embed.word_frequencies(toks)
    raw = embed.sif_embed(toks, kv, a=1e-3, remove_pc=False, average="count")
    w = {t: 1e-3 / (1e-3 + p) for t, p in freq.items()}
    expected = (w["the"] * kv["the"] + w["branch"] * kv["branch"] + w["plot"] * kv["plot"]) / 3
    assert np.allclose(raw[2], expected)
    weighted = embed.sif_embed(toks, kv, a=1e-3, remove_pc=False)
    assert np.allclose(weighted[3], kv["svn"]) and np.allclose(raw[3], w["svn"] * kv["svn"])
    full = embed.sif_embed(toks, kv, a=1e-3, average="count", center=True)
    from sklearn.decomposition import PCA
    u = PCA(1).fit(raw).components_[0]
    assert np.allclose(full, raw - np.outer(raw @ u, u), atol=1e-6)
    with pytest.raises(ValueError, match="average"):
        embed.sif_embed(toks, kv, average="mean")


def test_sif_keys_counts_p_on_the_looked_up_words():
    kv = _toy_vectors()
    toks = [["The", "svn"], ["the", "matlab"], ["THE", "plot"], ["zzz"]]
    freq = embed.key_frequencies(toks, kv)
    # "The", "the" and "THE" are all looked up as "the": one count of 3 out of 7 tokens
    assert freq["The"] == freq["the"] == freq["THE"] == pytest.approx(3 / 7)
    assert freq["svn"] == freq["zzz"] == pytest.approx(1 / 7)
    by_keys = embed.sif_embed(toks, kv, weights="keys", remove_pc=False)
    assert np.allclose(by_keys, embed.sif_embed(toks, kv, weights=freq, remove_pc=False))
    cased = embed.sif_embed(toks, kv, remove_pc=False)  # "The" counted apart: p = 1/7, weighs more
    assert not np.allclose(by_keys[0], cased[0])


def test_train_word2vec_is_deterministic():
    toks = [embed.tokenize(t.lower()) for t in TEXTS] * 20
    a = embed.train_word2vec(toks, vector_size=8, min_count=1, epochs=2, seed=1)
    b = embed.train_word2vec(toks, vector_size=8, min_count=1, epochs=2, seed=1)
    assert np.array_equal(a["svn"], b["svn"])


def test_tokenize_splits_punctuation():
    assert embed.tokenize("How do I use C# in .NET?") == ["How", "do", "I", "use", "C", "#", "in", ".", "NET", "?"]


def test_tfidf_and_lsa():
    x = embed.tfidf(TEXTS * 3, min_df=1)
    assert x.shape[0] == 15
    z = embed.tfidf_lsa(TEXTS * 3, n_components=3, min_df=1)
    assert z.shape == (15, 3) and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
    zh = embed.tfidf(["中国足球", "中国股市", "股市大涨"], analyzer="char", min_df=1)
    assert zh.shape[1] == 8  # 中 国 足 球 股 市 大 涨


def test_throughput_helper_reports_agreement_and_cache():
    from stc_utils.bench import embedding_throughput

    texts = [f"{t} ({i})" for i in range(8) for t in TEXTS]
    r = embedding_throughput(texts, repeats=1, precision="fp32")
    assert r["texts"] == 40 and r["precision"] == "fp32"
    assert r["min_cosine"] > 0.999 and r["cache_identical"]
    assert r["encode_texts_per_s"] > 0 and r["ours_texts_per_s"] > 0

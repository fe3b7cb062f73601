"""Measurements behind the performance claims: embedding throughput against
``SentenceTransformer.encode`` and the on-disk cache.

Used by ``benchmarks/embed_throughput.py`` and measured live in lesson 02.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from typing import Sequence

import numpy as np


def embedding_throughput(texts: Sequence[str], repeats: int = 2, batch_size: int = 32,
                         precision: str | None = None) -> dict:
    """Time ``embed_texts`` against ``SentenceTransformer.encode`` on the same texts.

    Same model (the bundled all-MiniLM-L6-v2), same CPU, same process, max_length = the
    model's 256. ``encode`` runs in fp32; ours in ``precision`` (default: the library's CPU
    default). Each side runs ``repeats`` times, interleaved, after a warm-up; the best time
    counts. Also times a cold and a warm call of the cache (in a temporary cache folder).
    """
    import torch
    from sentence_transformers import SentenceTransformer

    from .embed import default_model_path, default_precision, embed_texts

    texts = list(texts)
    st = SentenceTransformer(str(default_model_path()), device="cpu")
    precision = precision or default_precision("cpu")
    kw = dict(max_length=st.max_seq_length, batch_size=batch_size, precision=precision,
              device="cpu", cache=False, progress=False)
    st.encode(texts[:64], batch_size=32)
    embed_texts(texts[:64], **kw)
    t_ref, t_ours = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ref = st.encode(texts, batch_size=32, normalize_embeddings=True)
        t_ref.append(time.perf_counter() - start)
        start = time.perf_counter()
        ours = embed_texts(texts, **kw)
        t_ours.append(time.perf_counter() - start)
    cos = (ours * ref).sum(1)

    previous = os.environ.get("STC_CACHE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STC_CACHE_DIR"] = tmp
        try:
            kw_cache = {**kw, "cache": True}
            start = time.perf_counter(); embed_texts(texts, **kw_cache); cold = time.perf_counter() - start
            start = time.perf_counter(); warm_vec = embed_texts(texts, **kw_cache); warm = time.perf_counter() - start
        finally:
            if previous is None:
                os.environ.pop("STC_CACHE_DIR", None)
            else:
                os.environ["STC_CACHE_DIR"] = previous
    return {
        "texts": len(texts), "precision": precision, "batch_size": batch_size,
        "max_length": st.max_seq_length, "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "encode_texts_per_s": len(texts) / min(t_ref),
        "ours_texts_per_s": len(texts) / min(t_ours),
        "speedup": min(t_ref) / min(t_ours),
        "min_cosine": float(cos.min()),
        "max_abs_error": float(np.abs(ours - ref).max()),
        "cache_cold_s": cold, "cache_warm_s": warm, "cache_speedup": cold / warm,
        "cache_identical": bool(np.array_equal(warm_vec, ours)),
    }

"""Measurements behind the performance claims: embedding throughput against
``SentenceTransformer.encode`` and the on-disk cache (lesson 02), CDP against K-means (lesson 03).

Used by ``benchmarks/embed_throughput.py`` and ``benchmarks/cdp_speed.py`` and measured live
in the lessons.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from typing import Sequence
from unittest import mock

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

    kw_cache = {**kw, "cache": True}
    with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, {"STC_CACHE_DIR": tmp}):
        start = time.perf_counter(); embed_texts(texts, **kw_cache); cold = time.perf_counter() - start
        start = time.perf_counter(); warm_vec = embed_texts(texts, **kw_cache); warm = time.perf_counter() - start
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


def _rss_peak_kib() -> int | None:
    """The process's peak resident memory (VmHWM, Linux), or None elsewhere."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def measure_peak(fn, *args, **kwargs):
    """Run ``fn`` and return ``(result, seconds, extra peak MiB)``: the rise of the process's
    peak RSS over its current RSS during the call (Linux: the peak is reset through
    ``/proc/self/clear_refs``; elsewhere the extra memory is ``nan``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _rss_peak_kib()
    except OSError:
        before = None
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    after = _rss_peak_kib()
    extra = (after - before) / 1024 if before is not None and after is not None else float("nan")
    return result, seconds, extra


def cdp_speed(x, n_clusters: int, sizes=(2000, 5000, 10000, 20000), seed: int = 0, repeats: int = 2) -> dict:
    """Lesson 03's speed claims, measured in one process on the same data.

    ``cdp_kmeans`` (exact density + CDP centres + Lloyd) against scikit-learn
    ``KMeans(n_clusters, n_init=10)`` on all of ``x``, interleaved ``repeats`` times, the best
    time of each side counting (other load on the machine only ever adds time), each with its
    extra peak memory; then the density step alone (best of ``repeats``) on the first
    ``sizes`` rows of a seeded permutation: how it grows with n.
    """
    import torch
    from sklearn.cluster import KMeans

    from .cdp import cdp_kmeans, density

    x = np.ascontiguousarray(x, dtype=np.float32)
    density(x[:500])  # warm-up (thread pools, first allocations)
    km, cd = [], []
    for _ in range(repeats):
        km.append(measure_peak(KMeans(n_clusters, n_init=10, random_state=seed).fit, x)[1:])
        cd.append(measure_peak(cdp_kmeans, x, n_clusters, seed=seed)[1:])
    t_km, t_cdp = min(t for t, _ in km), min(t for t, _ in cd)
    order = np.random.default_rng(seed).permutation(len(x))
    scaling = []
    for n in sizes:
        if n <= len(x):
            runs = [measure_peak(density, x[order[:n]])[1:] for _ in range(repeats)]
            scaling.append({"n": n, "density_s": min(t for t, _ in runs), "extra_peak_mib": max(m for _, m in runs)})
    return {"n": len(x), "dim": x.shape[1], "k": n_clusters, "repeats": repeats,
            "kmeans_n_init10_s": t_km, "kmeans_extra_peak_mib": max(m for _, m in km),
            "cdp_kmeans_s": t_cdp, "cdp_extra_peak_mib": max(m for _, m in cd),
            "ratio_cdp_over_kmeans": t_cdp / t_km, "torch_threads": torch.get_num_threads(),
            "scaling": scaling}

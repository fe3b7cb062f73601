"""Benchmark: our BERT embedding path against ``SentenceTransformer.encode``, and the cache.

Same model (the bundled all-MiniLM-L6-v2), same texts (a stratified sample of SearchSnippets,
seed 0), same CPU, same process, max_length = the model's 256. ``encode`` runs in fp32;
ours in the library's default precision for the CPU (bf16 autocast where the CPU has native
bf16, else fp32; ``--precision`` overrides).
Each side runs ``--repeats`` times, interleaved, after one warm-up; the best time counts.

    python benchmarks/embed_throughput.py            # 3,000 texts
    python benchmarks/embed_throughput.py --n 500    # quicker

Targets (issue 2): throughput >= 1.5x encode with every cosine >= 0.999; a warm cache
returns >= 50x faster than the cold run. Writes ``benchmarks/results/embed_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def measure(n: int = 3000, repeats: int = 2, batch_size: int = 32, dataset: str = "searchsnippets",
            precision: str | None = None) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer

    from stc_utils.data import load_dataset
    from stc_utils.embed import default_model_path, default_precision, embed_texts

    texts = load_dataset(dataset, n=n, seed=0).texts
    st = SentenceTransformer(str(default_model_path()), device="cpu")
    precision = precision or default_precision("cpu")
    kw = dict(max_length=st.max_seq_length, batch_size=batch_size, precision=precision, device="cpu",
              cache=False, progress=False)
    st.encode(texts[:64], batch_size=32)  # warm-up both paths
    embed_texts(texts[:64], **kw)
    t_ref, t_ours = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        ref = st.encode(texts, batch_size=32, normalize_embeddings=True)
        t_ref.append(time.perf_counter() - t)
        t = time.perf_counter()
        ours = embed_texts(texts, **kw)
        t_ours.append(time.perf_counter() - t)
    cos = (ours * ref).sum(1)

    with tempfile.TemporaryDirectory() as tmp:  # a cold and a warm cache
        os.environ["STC_CACHE_DIR"] = tmp
        kw_cache = {**kw, "cache": True}
        t = time.perf_counter(); embed_texts(texts, **kw_cache); cold = time.perf_counter() - t
        t = time.perf_counter(); warm_vec = embed_texts(texts, **kw_cache); warm = time.perf_counter() - t
        os.environ.pop("STC_CACHE_DIR")
    return {
        "dataset": dataset, "texts": len(texts), "precision": precision, "batch_size": batch_size,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default=None)
    args = parser.parse_args()
    result = measure(args.n, args.repeats, args.batch_size, precision=args.precision)
    for k, v in result.items():
        print(f"{k:>20}: {v:.4g}" if isinstance(v, float) else f"{k:>20}: {v}")
    ok = result["speedup"] >= 1.5 and result["min_cosine"] >= 0.999 and result["cache_speedup"] >= 50
    print("targets met" if ok else "TARGETS MISSED")
    out = Path(__file__).parent / "results" / "embed_throughput.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

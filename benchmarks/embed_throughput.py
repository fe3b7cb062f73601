"""Benchmark: our BERT embedding path against ``SentenceTransformer.encode``, and the cache.

Same model (the bundled all-MiniLM-L6-v2), same texts (a stratified sample of SearchSnippets,
seed 0), same CPU, same process, max_length = the model's 256. ``encode`` runs in fp32;
ours in the library's default precision for the CPU (bf16 autocast where the CPU has native
bf16, else fp32; ``--precision`` overrides).

    python benchmarks/embed_throughput.py            # 3,000 texts
    python benchmarks/embed_throughput.py --n 500    # quicker

Targets (issue 2): throughput >= 1.5x encode with every cosine >= 0.999; a warm cache
returns >= 50x faster than the cold run. Writes ``benchmarks/results/embed_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stc_utils.bench import embedding_throughput
from stc_utils.data import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default=None)
    args = parser.parse_args()
    texts = load_dataset("searchsnippets", n=args.n, seed=0).texts
    result = {"dataset": "searchsnippets", **embedding_throughput(texts, args.repeats, args.batch_size, args.precision)}
    for k, v in result.items():
        print(f"{k:>20}: {v:.4g}" if isinstance(v, float) else f"{k:>20}: {v}")
    ok = result["speedup"] >= 1.5 and result["min_cosine"] >= 0.999 and result["cache_speedup"] >= 50
    print("targets met" if ok else "TARGETS MISSED (see README: precision and CPU)")
    out = Path(__file__).parent / "results" / "embed_throughput.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark: K-means, autoencoder + K-means, DEC, IDEC (and Self-Train) over seeds.

From the cached MiniLM embeddings (mean pooling, L2-normalised, max_length 128), per seed:
K-means on the embeddings (n_init=10); an autoencoder pretrained on them and K-means on its
codes (DEC's starting point); DEC and IDEC refining copies of that same pretrained model;
with ``--self-train`` also the Self-Train pipeline on SIF-weighted STC^2 48-d Word2Vec.
Hyper-parameters are ``stc_utils.autoencoder.SETTINGS`` (``FAST_SETTINGS`` with ``--fast``),
fixed in advance and identical for every dataset; labels only score the results and set K.

    python benchmarks/dec_benchmark.py --dataset searchsnippets --seeds 5 --out benchmarks/results/dec_benchmark.jsonl
    python benchmarks/dec_benchmark.py --dataset stackoverflow --seeds 5 --self-train --out results/x.jsonl
    python benchmarks/dec_benchmark.py --dataset biomedical --seeds 1 --fast      # 2,000 texts

Prints one JSON line per (method, seed), then a mean ± std table, and the wall time of
autoencoder pretraining + K-means init + DEC (target: <= 3 minutes on 20,000 texts, 2 cores).
``--out`` appends the JSON lines to a file (lessons 04 and 04b read them). The committed file holds
no Self-Train rows: Self-Train's rows of record are the runner's (``python -m stc_utils bench
--methods self_train``, results/bench.csv; the same ``compare_methods`` call, so the same numbers).

Threads: ``--threads 1`` by default. These models are small (d-256-32): on the 2-core CI
machine, shared with another job, two OpenMP threads made a DEC step ~15x *slower* than one
(oversubscription); one thread is also what K-means gets here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # before numpy/torch/sklearn start their thread pools
    _t = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
    os.environ.setdefault("OMP_NUM_THREADS", _t)

import numpy as np
import pandas as pd
import torch

from stc_utils.autoencoder import FAST_SETTINGS, SELF_TRAIN_SIF, SETTINGS
from stc_utils.runner import compare_methods
from stc_utils.data import load_dataset, load_word2vec
from stc_utils.embed import default_precision, embed_texts, sif_embed, tokenize
from stc_utils.metrics import format_summary, summarize


def load_inputs(name: str, n: int | None, self_train: bool):
    """Texts, labels, MiniLM embeddings (cached) and, if asked, Self-Train's SIF Word2Vec vectors."""
    ds = load_dataset(name, n=n, seed=0)
    x = embed_texts(ds.texts, progress=False)
    x_w2v = sif_embed([tokenize(t) for t in ds.texts], load_word2vec(name), **SELF_TRAIN_SIF) if self_train else None
    return ds, x, x_w2v


def summary_table(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    table = {}
    for method, group in df.groupby("method", sort=False):
        stats = format_summary(summarize(group.to_dict("records"), ["acc", "nmi", "ari", "seconds"]))
        stops = group["stop_reason"].dropna()
        table[method] = {**stats, "seeds": len(group),
                         "stops": ", ".join(f"{k}×{v}" for k, v in stops.value_counts().items())}
    return pd.DataFrame(table).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1 after --first-seed)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="2,000 texts and FAST_SETTINGS")
    parser.add_argument("--self-train", action="store_true", help="also the Self-Train pipeline (Word2Vec)")
    parser.add_argument("--out", type=Path, help="append the JSON lines to this file")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenMP threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    settings = FAST_SETTINGS if args.fast else SETTINGS
    ds, x, x_w2v = load_inputs(args.dataset, 2000 if args.fast else None, args.self_train)
    precision = default_precision(torch.device("cpu"))  # MiniLM's, recorded: rows differ across CPUs
    methods = ("kmeans", "ae_kmeans", "dec", "idec") + (("self_train",) if args.self_train else ())
    print(f"# {ds.name}: {len(ds)} texts, K={ds.n_classes}, settings {json.dumps(settings)}, "
          f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}", flush=True)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for row in compare_methods(x, ds.labels, ds.n_classes, seed, settings, methods, x_w2v):
            row = {"dataset": ds.name, "n": len(ds), "fast": args.fast, "precision": precision, **row}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                with args.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
    print(summary_table(rows).to_string())
    dec_seconds = [r["seconds"] for r in rows if r["method"] == "dec"]
    print(f"autoencoder pretraining + K-means init + DEC on {len(ds)} texts: "
          f"{np.mean(dec_seconds):.0f} s per seed (max {np.max(dec_seconds):.0f} s; target <= 180 s on 20,000)")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"# total {time.perf_counter() - start:.0f} s")

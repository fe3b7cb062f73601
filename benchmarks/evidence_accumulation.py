"""Consensus over many K-means runs (evidence accumulation): does it beat one K-means on MiniLM?

Issue 21 lists "consensus over seeds" among the steps to measure. Lesson 08's SCAN already votes
over its 10 heads (`stc_utils.scan.consensus`); this script measures the classic consensus of
Fred & Jain (*Combining multiple clusterings using evidence accumulation*, IEEE TPAMI 2005) on
the frozen MiniLM vectors, label-free, with settings fixed before any run was scored:

1. ``runs`` K-means fits (one k-means++ start each), each with its own K' drawn uniformly from
   K .. 3K, so that a big class may be split and a small one kept apart in some runs;
2. the co-association of two texts = the share of the runs that put them together;
3. average linkage on 1 - co-association (SciPy), cut at K clusters.

Scored afterwards (labels only to score and to set K): one JSON line per dataset and seed with
ACC / NMI / ARI of the consensus beside plain K-means (10 starts, `stc_utils.cluster.kmeans`,
same seed), the cluster sizes and the seconds. Memory: the co-association is n x n (20,000 texts:
1.6 GB in float32, 1.6 GB more for the condensed distances).

    python benchmarks/evidence_accumulation.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # before numpy starts its thread pool
    os.environ.setdefault("OMP_NUM_THREADS", sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1")

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.cluster import KMeans

from stc_utils.cluster import kmeans
from stc_utils.data import load_dataset
from stc_utils.embed import default_precision, embed_texts
from stc_utils.metrics import evaluate


def evidence_accumulation(x, k: int, runs: int = 20, spread: int = 3, seed: int = 0) -> np.ndarray:
    """Labels 0..k-1: average linkage on 1 - the co-association of ``runs`` K-means fits at K' in k..spread*k."""
    rng, n = np.random.default_rng(seed), len(x)
    together = np.zeros((n, n), np.float32)
    for _ in range(runs):
        k_run = int(rng.integers(k, spread * k + 1))
        one_hot = np.eye(k_run, dtype=np.float32)[KMeans(k_run, n_init=1, random_state=int(rng.integers(2**31))).fit_predict(x)]
        together += one_hot @ one_hot.T
    distance = 1 - together / runs
    np.fill_diagonal(distance, 0)
    del together
    tree = linkage(squareform(distance, checks=False), "average")
    return fcluster(tree, k, "maxclust") - 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["searchsnippets", "stackoverflow", "biomedical"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/evidence_accumulation.jsonl"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.datasets:
        ds = load_dataset(name)
        x, k = embed_texts(ds.texts, progress=False).astype(np.float32), ds.n_classes
        for seed in args.seeds:
            row = {"dataset": name, "seed": seed, "texts": len(ds), "k": k, "runs": args.runs, "spread": 3}
            for method, fit in [("kmeans", lambda: kmeans(x, k, seed=seed)),
                                ("evidence_accumulation", lambda: evidence_accumulation(x, k, args.runs, seed=seed))]:
                start = time.perf_counter()
                labels = fit()
                scores = evaluate(ds.labels, labels)
                row[method] = {**{m: round(scores[m], 4) for m in ("acc", "nmi", "ari")},
                               "sizes": sorted(np.bincount(labels).tolist(), reverse=True),
                               "seconds": round(time.perf_counter() - start, 1)}
            row.update(threads=args.threads, precision=default_precision(torch.device("cpu")))
            print(json.dumps(row), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

"""Which layouts does N2D's map of the joined vectors fall into, and does a label-free score tell them apart?

Lesson 08e, section 7 and exercise 4: on SearchSnippets, K-means on the map of MiniLM beside the
words (``embed.hybrid``, ``N2D_SETTINGS``) scores near 0.74 on some seeds and near 0.80 on others.
For each map seed this script records K-means' ACC on the map (labels only to score) beside three
label-free numbers computed in a space common to all maps, so that they can be compared across maps:
the within-cluster sum of squares (K-means' own objective) in the joined space and in MiniLM's, and
the cosine silhouette in the joined space (4,000 texts drawn once with seed 0), plus the cluster sizes.
The runner's bf16 vectors (the embedding cache), one thread. One JSON line per map seed.

    python benchmarks/hybrid_map_layouts.py --dataset searchsnippets --seeds 0 16
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

if __name__ == "__main__":  # before numpy starts its thread pool
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from sklearn.metrics import silhouette_score

from stc_utils.cluster import kmeans, n2d
from stc_utils.metrics import evaluate
from stc_utils.runner import Inputs

OUT = Path(__file__).parent / "results" / "hybrid_map_layouts.jsonl"


def inertia(v, labels) -> float:
    return float(sum(((v[labels == c] - v[labels == c].mean(0)) ** 2).sum() for c in np.unique(labels)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="searchsnippets")
    parser.add_argument("--seeds", nargs=2, type=int, default=[0, 16], help="map seeds from, to (exclusive)")
    args = parser.parse_args()
    inp = Inputs(args.dataset, None)
    y, k = inp.ds.labels, inp.ds.n_classes
    x, joined = inp.get("bert"), inp.get("hybrid")
    sample = np.random.default_rng(0).choice(len(y), min(4000, len(y)), replace=False)
    for s in range(*args.seeds):
        labels = kmeans(n2d(joined, k, seed=s, mixture=False)[1], k, seed=s)
        row = {"dataset": args.dataset, "map_seed": s, "acc": evaluate(y, labels)["acc"],
               "inertia_joined": inertia(joined, labels), "inertia_minilm": inertia(x, labels),
               "sil_joined": float(silhouette_score(joined[sample], labels[sample], metric="cosine")),
               "sizes": sorted(np.bincount(labels).tolist())}
        print(json.dumps(row), flush=True)
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

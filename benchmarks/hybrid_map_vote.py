"""Does a label-free vote over several maps steady n2d_hybrid_ic's start?

Lesson 08e, section 7: ``n2d_hybrid_ic`` starts from K-means on N2D's UMAP map of MiniLM beside the
words (``embed.hybrid``), and over five seeds its SearchSnippets ACC ranged 0.800-0.883, the spread
coming from the start (one map of five started 6 points lower). This script tries two label-free
ways to pick the start from ``maps`` maps (seeds ``maps * s`` ... ``maps * s + maps - 1`` for seed s),
settings fixed before any run was scored:

- ``medoid``: the map whose K-means agrees most with the others' (highest mean ARI, no labels);
  the rounds (``IC_SETTINGS``, seed s) then run from it;
- ``consensus``: ``stc_utils.scan.consensus`` of the maps' K-means (scored only, no rounds).

One JSON line per dataset and seed: each map's ACC, their mean ARI to the others, the pick, the
ACC of the picked start, of the consensus and after the rounds, and the seconds. The runner's
bf16 MiniLM vectors (the embedding cache), one thread.

    python benchmarks/hybrid_map_vote.py --datasets searchsnippets --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

if __name__ == "__main__":  # before numpy starts its thread pool
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from stc_utils.cluster import iterative_classification, kmeans, n2d
from stc_utils.metrics import ari, evaluate
from stc_utils.runner import Inputs
from stc_utils.scan import consensus

OUT = Path(__file__).parent / "results" / "hybrid_map_vote.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["searchsnippets"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--maps", type=int, default=5)
    args = parser.parse_args()
    m = args.maps
    for name in args.datasets:
        inp = Inputs(name, None)
        y, k = inp.ds.labels, inp.ds.n_classes
        x, words, joined = inp.get("bert"), inp.get("words"), inp.get("hybrid")
        for s in args.seeds:
            t = time.perf_counter()
            runs = [kmeans(n2d(joined, k, seed=m * s + j, mixture=False)[1], k, seed=m * s + j) for j in range(m)]
            maps_s = time.perf_counter() - t
            mean_ari = [float(np.mean([ari(runs[i], runs[j]) for j in range(m) if j != i])) for i in range(m)]
            pick = int(np.argmax(mean_ari))
            t = time.perf_counter()
            labels, history = iterative_classification([words, x], runs[pick], x, seed=s)
            row = {"dataset": name, "seed": s, "map_seeds": [m * s + j for j in range(m)],
                   "run_acc": [round(evaluate(y, r)["acc"], 4) for r in runs],
                   "mean_ari": [round(a, 3) for a in mean_ari], "medoid": pick,
                   "medoid_acc": evaluate(y, runs[pick])["acc"],
                   "cons_acc": evaluate(y, consensus(np.array(runs), k, seed=s))["acc"],
                   "ic_acc": evaluate(y, labels)["acc"], "rounds": len(history), "maps_s": round(maps_s, 1),
                   "ic_s": round(time.perf_counter() - t, 1)}
            print(json.dumps(row), flush=True)
            with OUT.open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

"""Time per seed of lesson 08's method, from the texts to the labels: is it under 20 minutes?

Issue 21 asks for at most 20 minutes per seed per dataset on 2 CPU cores. The runner's rows
(``results/bench.csv``) time the fit on cached vectors; a user with new texts also pays for the
embedding. This script times each stage on all texts of each benchmark, one seed:

- ``embed_s``: MiniLM vectors computed from scratch (``cache=False``), the precision
  ``embed_texts`` picks for this CPU;
- ``neighbours_s``: the 20-nearest-neighbour search (cosine);
- ``fit_s``: ``fit_scan`` with ``SCAN_SETTINGS`` (its own neighbour search included; rows written
  before the heads' vote became the default, 2026-12-03, lack its ~5 s and score the kept head);
- ``total_s`` = embed + fit; ``acc`` scores the labels afterwards (as the runner does).

    python benchmarks/scan_time.py --threads 1 --out benchmarks/results/scan_time.jsonl

Appends one JSON line per dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # before torch starts its thread pool
    os.environ.setdefault("OMP_NUM_THREADS", sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2")

import torch

from stc_utils.data import load_dataset
from stc_utils.embed import cpu_has_native_bf16, default_precision, embed_texts
from stc_utils.metrics import evaluate
from stc_utils.scan import SCAN_SETTINGS, fit_scan, neighbours


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["searchsnippets", "stackoverflow", "biomedical"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/scan_time.jsonl"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.datasets:
        ds = load_dataset(name)
        start = time.perf_counter()
        x = embed_texts(ds.texts, cache=False, progress=False)
        embed_s = time.perf_counter() - start
        start = time.perf_counter()
        neighbours(x, SCAN_SETTINGS["neighbours"])
        nb_s = time.perf_counter() - start
        fit = fit_scan(x, ds.n_classes, seed=args.seed, progress=False)
        row = {"dataset": name, "texts": len(ds), "k": ds.n_classes, "seed": args.seed, "threads": args.threads,
               "cpu": platform.machine(), "native_bf16": cpu_has_native_bf16(),
               "precision": default_precision(torch.device("cpu")), "torch": torch.__version__,
               "embed_s": round(embed_s, 1), "neighbours_s": round(nb_s, 1), "fit_s": round(fit.seconds, 1),
               "epochs": len(fit.history), "stop_reason": fit.stop_reason,
               "total_s": round(embed_s + fit.seconds, 1), "acc": round(evaluate(ds.labels, fit.labels)["acc"], 4)}
        print(json.dumps(row), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

"""Train the whole encoder once on n2d_hybrid_ic's labels, then cluster again on what it learned?

Last stop's Deep ECIC run (``benchmarks/deep_ic.py``) fine-tuned MiniLM as the rounds' classifier:
ACC barely moved, but on Biomedical seed 0 K-means on the fine-tuned vectors (0.542) passed the
labels the encoder had learned from (0.528). This script asks whether that holds as a method:

1. ``n2d_hybrid_ic`` as the runner runs it (K-means on N2D's map of the joined vectors, then
   ``IC_SETTINGS``' rounds, seed s);
2. one fine-tune of a fresh MiniLM (all six layers + a linear head) on one round's draw of those
   labels (``stc_utils.cluster.ic_train_split``), exactly as ``deep_ic.fine_tune`` (one epoch,
   cross-entropy, AdamW 2e-5 / head 1e-3, batch 32, max_length 32, bf16 where the CPU has it);
3. the fine-tuned vectors z of every text, then
   (a) K-means (10 starts) on z;
   (b) the rounds again from (a), their views TF-IDF and z, outliers on z  <- the candidate;
   (c) the rounds again from step 1's labels, views TF-IDF and z (keeps the labels' layout).

The candidate (b) and every setting were fixed before any run was scored. One JSON line per
dataset and seed with ACC of each step, the rounds run and the seconds. Labels only score.

    python benchmarks/finetune_then_ic.py --datasets biomedical --seeds 0 1 2
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
import torch
from deep_ic import fine_tune, hybrid_ic, load

from stc_utils.cluster import ic_train_split, iterative_classification, kmeans
from stc_utils.embed import default_precision

OUT = Path(__file__).parent / "results" / "finetune_then_ic.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["biomedical"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.datasets:
        y, k, x, words, joined, states, acc = load(name)
        for s in args.seeds:
            t0 = time.perf_counter()
            start, labels, history = hybrid_ic(joined, words, x, k, s)
            t1 = time.perf_counter()
            torch.manual_seed(s)
            rng = np.random.default_rng(s)
            train = ic_train_split(labels, x, rng)
            _, z, losses = fine_tune(states, labels, train, k, rng)
            t2 = time.perf_counter()
            again = kmeans(z, k, seed=s)
            cand, cand_hist = iterative_classification([words, z], again, z, seed=s)
            t3 = time.perf_counter()
            keep, keep_hist = iterative_classification([words, z], labels, z, seed=s)
            row = {"dataset": name, "seed": s, "texts": len(y), "k": k,
                   "bert_kmeans_acc": acc(kmeans(x, k, seed=s)), "start_acc": acc(start),
                   "ic_acc": acc(labels), "ic_rounds": len(history), "train_texts": len(train),
                   "loss_first": round(float(np.mean(losses[:20])), 3), "loss_last": round(float(np.mean(losses[-20:])), 3),
                   "kmeans_finetuned_acc": acc(again), "candidate_acc": acc(cand), "candidate_rounds": len(cand_hist),
                   "keep_labels_acc": acc(keep), "keep_labels_rounds": len(keep_hist),
                   "ic_s": round(t1 - t0), "finetune_s": round(t2 - t1), "candidate_s": round(t3 - t2),
                   "threads": args.threads, "precision": default_precision("cpu")}
            print(json.dumps(row), flush=True)
            with OUT.open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

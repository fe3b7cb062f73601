"""Does SCAN's loss, back-propagated into MiniLM (its top layer, or all six layers), improve on SCAN on frozen vectors?

Issue 21's next step after lesson 08: every published method ahead of the course trains the
encoder. Training all six MiniLM layers was out of a 2-core AVX2 budget (lesson 08 section 2), but the
top layer trains about seven times faster when the five frozen layers run once per text
(``stc_utils.contrastive.TopTrainedEncoder``, lesson 05's SCCL mode). This script:

1. fits SCAN on the frozen vectors (``fit_scan``, ``SCAN_SETTINGS``, the given seed): the start;
2. keeps training those 10 heads *and* MiniLM's top layer with the same loss (Adam, weight decay
   1e-4), each epoch every text once as the anchor with one of its 20 nearest neighbours (found
   once, on the frozen vectors) drawn at random; ``--neighbour-grad`` also back-propagates through
   the neighbour's vector (SCAN's paper), else the neighbour is encoded without gradient (cheaper);
3. after each epoch re-encodes all texts and writes one JSON line: the label-free monitor (the
   followed head's loss and label change, as ``fit_scan``) and, scored afterwards with the labels,
   the kept head, the heads' vote and K-means on the new vectors. Epoch 0 is the start.

No stop rule and no choice is made from the scores: a fixed number of epochs (the budget) runs.
``--refit`` also fits SCAN afresh (new heads, ``fit_scan``'s defaults, the same seed) on the last
epoch's vectors. ``--train-layers 6 --precision bf16 --bucket 2048`` trains all of MiniLM in bf16
autocast with length-bucketed batches (for CPUs with native bf16; lesson 08b):

    python benchmarks/scan_encoder.py --datasets searchsnippets --seed 0 --epochs 3 --threads 2 \
        --train-layers 6 --precision bf16 --bucket 2048 --encoder-lr 2e-5 --refit

    python benchmarks/scan_encoder.py --datasets searchsnippets --seed 0 --epochs 3 --threads 1 \
        --encoder-lr 1e-5 --out benchmarks/results/scan_encoder.jsonl
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

import numpy as np
import torch

from stc_utils.cluster import kmeans
from stc_utils.contrastive import TopTrainedEncoder
from stc_utils.data import load_dataset
from stc_utils.dec import label_change_rate
from stc_utils.embed import embed_texts
from stc_utils.metrics import evaluate
from stc_utils.scan import SCAN_SETTINGS, _full_loss, consensus, fit_scan, neighbours, scan_loss


def scores(y, every: np.ndarray, total: torch.Tensor, z: np.ndarray, k: int, seed: int) -> dict:
    best = int(total.argmin())
    return {"acc_head": evaluate(y, every[best])["acc"], "acc_vote": evaluate(y, consensus(every, k, seed=seed))["acc"],
            "acc_kmeans": evaluate(y, kmeans(z, k, seed=seed))["acc"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["searchsnippets"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--encoder-lr", type=float, default=1e-5)
    ap.add_argument("--head-lr", type=float, default=1e-4)
    ap.add_argument("--neighbour-grad", action="store_true")
    ap.add_argument("--train-layers", type=int, default=1, help="top layers that learn (6: all of MiniLM)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default=None, help="training precision (default: the device's)")
    ap.add_argument("--refit", action="store_true",
                    help="after the last epoch, also fit SCAN afresh on the retrained vectors (fit_scan's defaults)")
    ap.add_argument("--anchor", type=float, default=0.0,
                    help="weight of an anchor term, mean (1 - cosine) between each anchor's vector and its epoch-0 vector")
    ap.add_argument("--bucket", type=int, default=0,
                    help="length buckets: sort each run of this many shuffled anchors by length (0: random batches)")
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--texts", type=int, default=None, help="a sample of this many texts (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/scan_encoder.jsonl"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    w, n_nb = SCAN_SETTINGS["entropy_weight"], SCAN_SETTINGS["neighbours"]
    for name in args.datasets:
        ds = load_dataset(name, n=args.texts, seed=0)
        y, k, n = ds.labels, ds.n_classes, len(ds)
        x = embed_texts(ds.texts, progress=False)
        fit = fit_scan(x, k, seed=args.seed, progress=False)
        nb = torch.from_numpy(neighbours(x, n_nb))
        start = time.perf_counter()
        enc = TopTrainedEncoder(train_layers=args.train_layers, max_length=args.max_length, precision=args.precision)
        states = enc.frozen(ds.texts)
        frozen_s = time.perf_counter() - start
        heads = fit.model.train()
        opt = torch.optim.Adam([{"params": [p for p in enc.parameters() if p.requires_grad], "lr": args.encoder_lr},
                                {"params": heads.parameters(), "lr": args.head_lr}], weight_decay=1e-4)
        base = {"dataset": name, "texts": n, "k": k, "seed": args.seed, "encoder_lr": args.encoder_lr,
                "head_lr": args.head_lr, "train_layers": args.train_layers, "anchor": args.anchor, "bucket": args.bucket, "neighbour_grad": args.neighbour_grad, "max_length": args.max_length,
                "batch_size": args.batch_size, "threads": args.threads, "cpu": platform.machine(),
                "precision": str(enc.amp or "fp32"), "torch": torch.__version__, "scan_fit_s": round(fit.seconds, 1),
                "frozen_s": round(frozen_s, 1)}

        start_z = []  # the epoch-0 vectors: the anchor's target and the drift monitor's reference

        def record(epoch: int, train_s: float, previous) -> np.ndarray:
            t = time.perf_counter()
            z = (enc.encode(states) / enc.scale).float()
            start_z.append(z) if not start_z else None
            (total, _, _), p = _full_loss(heads, z, nb, w)
            every = p.argmax(2).cpu().numpy()
            best = int(total.argmin())
            change = None if previous is None else label_change_rate(previous[best], every[best])
            row = {**base, "epoch": epoch, "train_s": round(train_s, 1), "encode_s": round(time.perf_counter() - t, 1),
                   "head": best, "loss": float(total[best]), "label_change": change,
                   "drift": float(1 - (z * start_z[0]).sum(1).mean()),  # label-free: how far the vectors moved
                   **scores(y, every, total, z.cpu().numpy(), k, args.seed)}
            if args.refit and epoch == args.epochs:  # new heads on the new vectors, chosen as fit_scan chooses
                again = fit_scan(z.cpu().numpy(), k, seed=args.seed, progress=False)
                row.update(refit_s=round(again.seconds, 1), refit_vote=evaluate(y, again.labels)["acc"],
                           refit_head=evaluate(y, again.head_labels[again.head])["acc"])
            print(json.dumps(row), flush=True)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            return every

        rng = np.random.default_rng(args.seed)
        torch.manual_seed(args.seed)
        previous = record(0, 0.0, None)
        for epoch in range(1, args.epochs + 1):
            t = time.perf_counter()
            order, pick = rng.permutation(n), rng.integers(0, n_nb, n)
            if args.bucket:  # batches of similar lengths pad less; the order of the batches stays random
                size = np.array([len(s) for s in states])
                order = np.concatenate([c[np.argsort(size[c], kind="stable")] for c in np.split(order, range(args.bucket, n, args.bucket))])
            batches = [order[b:b + args.batch_size] for b in range(0, n, args.batch_size)]
            if args.bucket:
                batches = [batches[b] for b in rng.permutation(len(batches))]
            for i in batches:
                j = nb[i, pick[i]].numpy()
                enc.train()
                if args.neighbour_grad:
                    p = heads(enc([states[a] for a in np.concatenate([i, j])]).float() / enc.scale)
                    p_i, p_j = p[:, :len(i)], p[:, len(i):]
                else:
                    z_i = enc([states[a] for a in i]).float() / enc.scale
                    p_i = heads(z_i)
                    with torch.no_grad():
                        enc.eval()
                        p_j = heads(enc([states[a] for a in j]).float() / enc.scale)
                loss = scan_loss(p_i, p_j, w)[0].sum()
                if args.anchor:  # keep what MiniLM knows: stay near the epoch-0 vectors
                    if args.neighbour_grad:
                        raise SystemExit("--anchor is written for the neighbour without gradient")
                    loss = loss + args.anchor * (1 - (z_i * start_z[0][i]).sum(1)).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            previous = record(epoch, time.perf_counter() - t, previous)


if __name__ == "__main__":
    main()

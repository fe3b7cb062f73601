"""Self-Train ablation: which difference from the reference code cost our pipeline its accuracy.

Two end points, both run through the package's :func:`stc_utils.autoencoder.fit_self_train`:

- ``old``: the pipeline of results/bench.csv before the fix (lesson 04's ``SETTINGS``: SIF with
  a = 1e-3 and a weighted mean, DEC's global input scaling, d-256-32 ReLU pretrained 50 epochs,
  SGD 0.01 momentum 0.9, batch 256, P every 140 steps, 8,000 steps, tol 0.1 %, K-means 10 starts);
- ``ref``: the reference code's choices (``SELF_TRAIN_SIF`` + ``REF`` below, with their sources).

The package's Self-Train (the runner's ``self_train``) is ``old+sif``: ``SELF_TRAIN_SIF`` with
lesson 04's settings.

and configurations that change one group of settings at a time: ``ref-X`` puts group X back
to ``old``'s value, ``old+X`` takes X from ``ref``; changes chain (``old+sif+optimizer``). Each run records three labellings, all
label-free: ``start`` (K-means on the pretrained codes), ``q`` (DEC's argmax q after the last
step) and ``final`` (K-means on the learned codes, the method's output). Labels only score.

    OMP_NUM_THREADS=1 python benchmarks/self_train_ablation.py --datasets stackoverflow biomedical \\
        --configs ref old ref-sif old+sif --seeds 3 --out benchmarks/results/self_train_ablation.jsonl
    python benchmarks/self_train_ablation.py --summary benchmarks/results/self_train_ablation.jsonl

``--out`` is appended to and resumed: (dataset, config, seed) already there are skipped.
benchmarks/results/self_train_ablation.jsonl holds the runs of the report (issue 18); ``old``
and ``old+sif`` are also results/bench.csv's self_train rows before and after the fix (seeds 0-4:
the same code path, seeds 0-1 re-run here identical to the 4th decimal). ``ref`` is one seed
per dataset only: 452-1,239 s per run on this shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # before numpy/torch/sklearn start their thread pools
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd
import torch

from stc_utils.autoencoder import SELF_TRAIN_SIF, fit_self_train
from stc_utils.data import load_dataset, load_word2vec
from stc_utils.embed import sif_embed, tokenize
from stc_utils.metrics import evaluate

OLD_SIF: dict = {}  # sif_embed's defaults: a = 1e-3, weighted mean, uncentred first singular vector
OLD = {"dims": "small", "activation": "relu", "scaling": "dec", "ae_epochs": 50, "ae_lr": 1e-3, "batch_size": 256,
       "dec_optimizer": "sgd", "dec_lr": 0.01, "update_interval": 140, "tol": 0.001, "max_steps": 8000,
       "n_init": 10, "final": "kmeans", "final_n_init": 10}
# Hadifar et al.'s code (STC.py, data_loader.py) and torchSTC's (scripts/run.py): min-max inputs,
# d-500-500-2000-20 LeakyReLU, 15 epochs of Adam with batch 64, K-means with 100 starts; self-training
# of encoder + centroids with Adam (torchSTC; Hadifar's Keras code: SGD 0.1), P every 500 steps,
# 1,500 steps (their StackOverflow values), tol 0.01 %; K-means with 5 starts on the learned codes.
REF = {"dims": "stc", "activation": "leaky_relu", "scaling": "minmax", "ae_epochs": 15, "ae_lr": 1e-3,
       "batch_size": 64, "dec_optimizer": "adam", "dec_lr": 1e-3, "update_interval": 500, "tol": 1e-4,
       "max_steps": 1500, "n_init": 100, "final": "kmeans", "final_n_init": 5}
GROUPS = {  # one difference each; "sif" is the input vectors, the others are keys of the settings
    "sif": (), "scaling": ("scaling",), "arch": ("dims", "activation"), "epochs": ("ae_epochs",),
    "batch": ("batch_size",), "optimizer": ("dec_optimizer", "dec_lr"),
    "schedule": ("update_interval", "max_steps", "tol"), "starts": ("n_init", "final_n_init"),
    "center": (),  # +center: SIF removes the first principal component (centred; the reference's StackOverflow)
}


def config(name: str) -> tuple[dict, dict]:
    """``(sif kwargs, settings)`` of ``old`` or ``ref`` followed by any ``+GROUP`` (the group's
    setting taken from ``ref``) or ``-GROUP`` (taken from ``old``), e.g. ``old+sif+optimizer``."""
    import re

    base, *changes = re.split(r"(?=[+-])", name)
    if base not in ("old", "ref") or any(c[1:] not in GROUPS for c in changes):
        raise ValueError(f"unknown configuration {name!r}")
    sif, settings = (OLD_SIF, dict(OLD)) if base == "old" else (SELF_TRAIN_SIF, dict(REF))
    for change in changes:
        src_sif, src = (SELF_TRAIN_SIF, REF) if change[0] == "+" else (OLD_SIF, OLD)
        sif = src_sif if change[1:] == "sif" else {**sif, "center": True} if change == "+center" else sif
        settings.update({k: src[k] for k in GROUPS[change[1:]]})
    return sif, settings


def run(dataset: str, names: list[str], seeds: int, out: Path) -> None:
    done = set()
    if out.is_file():
        done = {(r["dataset"], r["config"], r["seed"]) for r in map(json.loads, out.read_text().splitlines())}
    ds = load_dataset(dataset)
    kv, tokens, vectors = load_word2vec(dataset), [tokenize(t) for t in ds.texts], {}
    for name in names:
        sif, settings = config(name)
        for seed in range(seeds):
            if (dataset, name, seed) in done:
                continue
            key = json.dumps(sif, sort_keys=True)
            if key not in vectors:
                vectors[key] = sif_embed(tokens, kv, **sif)
            labels, result, info = fit_self_train(vectors[key], ds.n_classes, seed, settings)
            row = {"dataset": dataset, "config": name, "seed": seed}
            for what, lab in (("final", labels), ("q", result.labels), ("start", info["start_labels"])):
                scores = evaluate(ds.labels, lab)
                row.update({f"{what}_acc": scores["acc"], f"{what}_nmi": scores["nmi"]})
            row.update(seconds=round(info["seconds"], 1), steps=result.steps, stop_reason=result.stop_reason,
                       sif=sif, settings=settings)
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
                              if k not in ("sif", "settings")}), flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")


def summary(path: Path) -> pd.DataFrame:
    """Mean ± std over seeds per (config, dataset): the method's ACC / NMI, and ACC of q and start."""
    df = pd.DataFrame(map(json.loads, path.read_text().splitlines()))
    cells = {}
    for (name, dataset), g in df.groupby(["config", "dataset"], sort=False):
        fmt = lambda c: f"{g[c].mean():.3f} ± {g[c].std(ddof=1) if len(g) > 1 else 0:.3f}"  # noqa: E731
        cells[(name, dataset)] = {"ACC": fmt("final_acc"), "NMI": fmt("final_nmi"), "ACC q": fmt("q_acc"),
                                  "ACC start": fmt("start_acc"), "seeds": len(g), "s/run": round(g["seconds"].mean())}
    return pd.DataFrame(cells).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["stackoverflow", "biomedical", "searchsnippets"])
    parser.add_argument("--configs", nargs="+", default=["ref", "old"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/self_train_ablation.jsonl"))
    parser.add_argument("--summary", type=Path, help="print the table of a results file and stop")
    args = parser.parse_args()
    if args.summary:
        print(summary(args.summary).to_string())
        return
    torch.set_num_threads(1)
    for name in args.configs:
        config(name)  # fail early on a typo
    start = time.perf_counter()
    for dataset in args.datasets:
        run(dataset, args.configs, args.seeds, args.out)
    print(f"wall {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

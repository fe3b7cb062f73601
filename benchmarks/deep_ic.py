"""Does fine-tuning the whole encoder as the classifier (Deep ECIC) lift n2d_hybrid_ic?

Pugachev & Burtsev (2021, "Short Text Clustering with Transformers") run iterative classification
with a fine-tuned Transformer as the classifier ("Deep ECIC"). The course's ``n2d_hybrid_ic``
(lesson 08e) uses two logistic regressions on frozen vectors. This script starts from its labels
(K-means on N2D's map of the joined vectors, then ``IC_SETTINGS``' rounds, seed s) and runs up
to ``--rounds`` more rounds in which MiniLM itself, all six layers, learns: each round draws the
training texts as the rounds do (``stc_utils.cluster.ic_train_split``: isolation-forest inliers, a
random 60-90 % of each cluster, at most the mean cluster size), fine-tunes a fresh copy of MiniLM
with a linear head (cross-entropy, one epoch, AdamW 2e-5 for the encoder and 1e-3 for the head,
batches of 32, max_length 32, length-bucketed, bf16 autocast where the CPU has it), and gives the
other texts the class of the mean of its probabilities and the TF-IDF regression's (the rounds'
two views, the MiniLM view now fine-tuned). Settings fixed before any run was scored; the label-free
stop is the rounds' own (fewer than 0.5 % of the texts change).

One JSON line per dataset, seed and round: ACC of the start, of the rounds' labels and after each
deep round (and of the fine-tuned classifier alone, ``deep_only_acc``), the share of texts changed,
the training loss (first and last 20 batches), K-means ACC on the fine-tuned vectors (what the
encoder took in), the seconds. Labels only score.

    python benchmarks/deep_ic.py --datasets stackoverflow --seeds 0 --threads 2
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
from torch import nn

from stc_utils.cluster import ic_train_split, iterative_classification, kmeans, n2d
from stc_utils.contrastive import TopTrainedEncoder
from stc_utils.metrics import evaluate
from stc_utils.runner import Inputs

OUT = Path(__file__).parent / "results" / "deep_ic.jsonl"


def fine_tune(states, labels, train, k, rng, epochs=1, batch=32, lr=2e-5, head_lr=1e-3):
    """A fresh MiniLM (all six layers) + linear head trained on ``train``.

    Returns the probabilities of every text, its fine-tuned vectors and the loss of every batch.
    """
    enc = TopTrainedEncoder(train_layers=6, max_length=32)
    head = nn.Linear(enc.bert.config.hidden_size, k)
    opt = torch.optim.AdamW([{"params": [p for p in enc.parameters() if p.requires_grad], "lr": lr},
                             {"params": head.parameters(), "lr": head_lr}])
    target, losses = torch.as_tensor(labels, dtype=torch.long), []
    for _ in range(epochs):
        enc.train()
        order = train[rng.permutation(len(train))]
        chunks = [order[i:i + 2048] for i in range(0, len(order), 2048)]  # length buckets
        order = np.concatenate([c[np.argsort([len(states[j]) for j in c], kind="stable")] for c in chunks])
        batches = [order[i:i + batch] for i in range(0, len(order), batch)]
        for b in (batches[i] for i in rng.permutation(len(batches))):
            loss = nn.functional.cross_entropy(head(enc([states[j] for j in b]).float()), target[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    z = enc.encode(states).float()
    with torch.no_grad():
        return torch.softmax(head(z), 1).numpy(), z.numpy(), losses


def load(name: str):
    """One benchmark: labels, K, MiniLM vectors, words, joined vectors, MiniLM's embedding-layer states
    (computed once, for every fine-tune) and an ACC scorer (labels only score)."""
    inp = Inputs(name, None)
    y, k = inp.ds.labels, inp.ds.n_classes
    x, words, joined = inp.get("bert"), inp.get("words"), inp.get("hybrid")
    states = TopTrainedEncoder(train_layers=6, max_length=32).frozen(list(inp.ds.texts))
    return y, k, x, words, joined, states, lambda labels: round(evaluate(y, labels)["acc"], 4)


def hybrid_ic(joined, words, x, k: int, seed: int):
    """``n2d_hybrid_ic`` as the runner runs it: its start, its labels and the rounds' history."""
    start = kmeans(n2d(joined, k, seed=seed, mixture=False)[1], k, seed=seed)
    return (start, *iterative_classification([words, x], start, x, seed=seed))


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["stackoverflow"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.datasets:
        y, k, x, words, joined, states, acc = load(name)
        for s in args.seeds:
            t = time.perf_counter()
            start, labels, history = hybrid_ic(joined, words, x, k, s)
            base = {"dataset": name, "seed": s, "start_acc": acc(start), "ic_acc": acc(labels),
                    "ic_rounds": len(history), "ic_s": round(time.perf_counter() - t)}
            torch.manual_seed(s)
            rng = np.random.default_rng(s)
            for r in range(1, args.rounds + 1):
                t = time.perf_counter()
                train = ic_train_split(labels, x, rng)
                rest = np.setdiff1d(np.arange(len(y)), train)
                p_deep, z, losses = fine_tune(states, labels, train, k, rng)
                p_words = LogisticRegression(max_iter=300).fit(words[train], labels[train]).predict_proba(words[rest])
                new, deep_only = labels.copy(), labels.copy()
                new[rest] = (p_deep[rest] + p_words).argmax(1)
                deep_only[rest] = p_deep[rest].argmax(1)
                changed = float((new != labels).mean())
                row = {**base, "round": r, "deep_only_acc": acc(deep_only), "acc": acc(new), "changed": round(changed, 4),
                       "loss_first": round(float(np.mean(losses[:20])), 3),
                       "loss_last": round(float(np.mean(losses[-20:])), 3),
                       "kmeans_finetuned_acc": acc(kmeans(z, k, seed=s)), "train_texts": len(train),
                       "s": round(time.perf_counter() - t), "threads": args.threads}
                labels = new
                print(json.dumps(row), flush=True)
                with OUT.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                if changed < 0.005:
                    break


if __name__ == "__main__":
    main()

"""Training throughput of MiniLM on this CPU: texts per second through one contrastive step.

The budget of issue 21 (train the whole encoder, <= 20 minutes per seed per dataset on 2 cores) is
planned from this number. One step is what SimCSE-style training does: each text of the batch is
encoded twice (two dropout views, the model in train mode), InfoNCE between the views, backward,
AdamW. Measured per configuration:

- ``train_layers``: 1 (lesson 05's top layer; the frozen layers' states are computed once, outside
  the timing, as ``TopTrainedEncoder.frozen`` caches them) or 6 (all of MiniLM's layers);
- ``precision``: fp32, or bf16 autocast (``native_bf16`` says whether the CPU has it; where it does
  not, bf16 is emulated and measured anyway, to show what it costs: 2 steps, random batches only);
- ``batches``: ``random`` (a shuffled order, each batch padded to its longest text) or ``bucketed``
  (shuffled, then sorted by length within chunks of 50 batches and the batches shuffled again: the
  batches stay random, the padding shrinks). ``padding`` is the share of padded token positions.

    OMP_NUM_THREADS=2 python benchmarks/train_throughput.py --threads 2 --out benchmarks/results/train_throughput.jsonl

Texts: SearchSnippets (the longest of the three benchmarks' texts), ``max_length`` 32, batch 64,
2 warm-up steps then ``--steps`` timed. Prints and appends one JSON line per configuration.
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

from stc_utils.contrastive import TopTrainedEncoder, info_nce
from stc_utils.data import load_dataset
from stc_utils.embed import cpu_has_native_bf16


def batch_order(lengths: np.ndarray, size: int, bucketed: bool, rng: np.random.Generator) -> list[np.ndarray]:
    """Random batches; ``bucketed``: sorted by length inside chunks of 50 batches, batches reshuffled."""
    order = rng.permutation(len(lengths))
    if bucketed:
        chunks = np.split(order, range(50 * size, len(order), 50 * size))
        order = np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in chunks])
    batches = [order[i:i + size] for i in range(0, len(order) - size + 1, size)]
    return [batches[i] for i in rng.permutation(len(batches))] if bucketed else batches


def measure(texts, train_layers: int, precision: str, bucketed: bool, size: int, steps: int, max_length: int) -> dict:
    torch.manual_seed(0)
    enc = TopTrainedEncoder(train_layers=train_layers, max_length=max_length, precision=precision)
    states = enc.frozen(texts)  # the frozen layers once (all of them but the embeddings when train_layers = 6)
    lengths = np.array([len(s) for s in states])
    batches = batch_order(lengths, size, bucketed, np.random.default_rng(0))[:steps + 2]
    opt = torch.optim.AdamW([p for p in enc.parameters() if p.requires_grad], lr=1e-5)
    enc.train()  # dropout on: the two views differ
    done = tokens = padded = 0
    for k, idx in enumerate(batches):
        if k == 2:
            start = time.perf_counter()
        batch = [states[i] for i in idx]
        loss = info_nce(enc(batch), enc(batch), temperature=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k >= 2:
            done += len(idx)
            tokens += int(lengths[idx].sum())
            padded += len(idx) * int(lengths[idx].max())
    seconds = time.perf_counter() - start
    return {"train_layers": train_layers, "precision": precision, "batches": "bucketed" if bucketed else "random",
            "texts_per_s": round(done / seconds, 1), "padding": round(1 - tokens / padded, 3), "steps": steps,
            "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per configuration (after 2 warm-up)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts = load_dataset("searchsnippets", n=(args.steps + 2) * args.batch_size * 4, seed=0).texts
    base = {"cpu": platform.processor() or platform.machine(), "native_bf16": cpu_has_native_bf16(),
            "threads": torch.get_num_threads(), "batch_size": args.batch_size, "max_length": args.max_length,
            "dataset": "searchsnippets", "torch": torch.__version__}
    for layers in (1, 6):
        for precision in ("fp32", "bf16"):
            emulated = precision == "bf16" and not base["native_bf16"]  # ~10x slower: 2 steps, random batches only
            for bucketed in (False,) if emulated else (False, True):
                steps = 2 if emulated else args.steps
                row = {**base, **measure(texts, layers, precision, bucketed, args.batch_size, steps, args.max_length)}
                print(json.dumps(row), flush=True)
                if args.out:
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    with args.out.open("a") as f:
                        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

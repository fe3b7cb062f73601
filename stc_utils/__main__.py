"""Command line: ``python -m stc_utils run --dataset stackoverflow``.

Loads a benchmark (verified), embeds it with the BERT model (cached), runs K-means over
several seeds and prints ACC / NMI / ARI as mean ± std with the timings of each step.
"""

from __future__ import annotations

import argparse
import sys
import time

from .config import is_fast_run, seed_everything


def run(args) -> int:
    import pandas as pd

    from .cluster import kmeans_seeds, summary_row
    from .data import load_dataset
    from .embed import embed_texts, load_encoder
    from .metrics import summarize

    n = args.n if args.n is not None else (2000 if is_fast_run() else None)
    rows = []
    for name in args.dataset:
        seed_everything(0)
        t0 = time.perf_counter()
        ds = load_dataset(name, n=n, seed=0)
        t1 = time.perf_counter()
        encoder = load_encoder(args.model, args.device)
        x = embed_texts(ds.texts, model=args.model, pooling=args.pooling, max_length=args.max_length,
                        device=args.device, cache=not args.no_cache)
        t2 = time.perf_counter()
        runs = kmeans_seeds(x, ds.labels, seeds=range(args.seeds), n_init=args.n_init)
        t3 = time.perf_counter()
        stats = summary_row(runs)
        rows.append({
            "dataset": name, "texts": len(ds), "k": ds.n_classes, **stats,
            "load s": round(t1 - t0, 2), "embed s": round(t2 - t1, 2),
            "k-means s/seed": round((t3 - t2) / args.seeds, 2),
        })
        print(f"[{name}] {len(ds)} texts, model {encoder.name}, pooling {args.pooling}: "
              + ", ".join(f"{k.upper()} {v}" for k, v in stats.items()), file=sys.stderr)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stc_utils", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="embed a benchmark, cluster it with K-means, print the results")
    p.add_argument("--dataset", nargs="+", default=["stackoverflow"],
                   help="one or more of: stackoverflow searchsnippets biomedical thucnews")
    p.add_argument("--model", default=None, help="HF model name or folder (default: bundled MiniLM)")
    p.add_argument("--pooling", default="mean", choices=["mean", "cls", "pooler"])
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seeds", type=int, default=3, help="K-means seeds 0..N-1 (default 3)")
    p.add_argument("--n-init", type=int, default=10)
    p.add_argument("--n", type=int, default=None, help="stratified subsample size (default: all; 2000 when STC_FAST=1)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: $STC_DEVICE or auto)")
    p.add_argument("--no-cache", action="store_true", help="recompute the embeddings")
    args = parser.parse_args(argv)
    if args.command == "run":
        from .data import DataError
        from .embed import ModelNotAvailableError

        try:
            return run(args)
        except (DataError, ModelNotAvailableError, KeyError, ValueError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            print(f"error: {msg}", file=sys.stderr)
            return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())

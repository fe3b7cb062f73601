"""Benchmark: ``choose_k`` over K = 2..40 on the 20,000 x 384 StackOverflow embeddings.

Same data as ``cdp_speed.py`` (the full StackOverflow MiniLM embeddings, from the cache).
Times the recommended criterion alone (what ``python -m stc_utils run --k auto`` computes)
and, with ``--all``, every criterion of lesson 06 in one call, with each one's seconds.

    python benchmarks/choose_k_speed.py                  # the recommended criterion
    python benchmarks/choose_k_speed.py --all            # also every criterion together
    python benchmarks/choose_k_speed.py --criterion silhouette

Target (issue 10): <= 120 s on 2 CPU cores for the recommended criterion. The machine's load
average at the start is recorded: other jobs on a shared machine only ever add time. On a
loaded machine set ``OMP_NUM_THREADS=1``: two BLAS/OpenMP threads competing with other jobs
were several times slower than one (the committed result ran with one thread).
Writes ``benchmarks/results/choose_k_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from stc_utils.cluster import CRITERIA, RECOMMENDED, choose_k
from stc_utils.data import load_dataset
from stc_utils.embed import embed_texts


def timed(x, ks, criteria, method) -> dict:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    k, table = choose_k(x, ks, method=method, criteria=criteria)
    seconds = time.perf_counter() - start
    per = {c: float(table[c].sum()) for c in table.columns if c.endswith(" s")}
    return {"criteria": list(criteria), "method": method, "chosen_k": k, "seconds": seconds,
            "seconds_by_column": per, "load_average_at_start": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="stackoverflow")
    parser.add_argument("--criterion", default=RECOMMENDED, choices=CRITERIA)
    parser.add_argument("--k-max", type=int, default=40)
    parser.add_argument("--all", action="store_true", help="also time every criterion in one call")
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_info

    ds = load_dataset(args.dataset)
    x = embed_texts(ds.texts)
    ks = range(2, args.k_max + 1)
    runs = [timed(x, ks, [args.criterion], args.criterion)]
    if args.all:
        runs.append(timed(x, ks, CRITERIA, args.criterion))
    result = {"dataset": args.dataset, "n": x.shape[0], "dim": x.shape[1], "k_values": [ks[0], ks[-1]],
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "blas_threads": max((i["num_threads"] for i in threadpool_info()), default=None),
              "cpu": platform.processor() or platform.machine(), "runs": runs}
    print(f"{args.dataset}: {result['n']} x {result['dim']}, K = {ks[0]}..{ks[-1]}, "
          f"{result['cpu_count']} CPUs, BLAS/OpenMP threads {result['blas_threads']}")
    for run in runs:
        print(f"  {'+'.join(run['criteria'])}: {run['seconds']:.1f} s (load average {run['load_average_at_start']:.2f} "
              f"at the start), chosen K = {run['chosen_k']}")
        for column, s in run["seconds_by_column"].items():
            print(f"    {column:<22} {s:7.1f}")
    print("target met (<= 120 s)" if runs[0]["seconds"] <= 120 else "TARGET MISSED (> 120 s)")
    out = Path(__file__).parent / "results" / "choose_k_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

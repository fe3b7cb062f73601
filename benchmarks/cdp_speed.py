"""Benchmark: CDP (exact density + CDP centres + Lloyd) against scikit-learn K-means, n_init=10.

Same data (the full StackOverflow MiniLM embeddings, 20,000 x 384, from the cache), same
process, same CPU. Also times the density step alone at 2k, 5k, 10k and 20k texts.

    python benchmarks/cdp_speed.py                 # stackoverflow, K = 20
    python benchmarks/cdp_speed.py --dataset biomedical

Targets (issue 7): ``cdp_kmeans`` takes no longer than ``KMeans(n_clusters=K, n_init=10)``
(ratio <= 1) with extra peak memory <= 1 GB. Writes ``benchmarks/results/cdp_speed.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stc_utils.bench import cdp_speed
from stc_utils.data import load_dataset
from stc_utils.embed import embed_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="stackoverflow")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ds = load_dataset(args.dataset)
    x = embed_texts(ds.texts)
    result = {"dataset": args.dataset, **cdp_speed(x, ds.n_classes, seed=args.seed)}
    print(f"{args.dataset}: {result['n']} x {result['dim']}, K = {result['k']}, "
          f"{result['torch_threads']} threads")
    print(f"  KMeans(n_init=10): {result['kmeans_n_init10_s']:.2f} s, extra peak {result['kmeans_extra_peak_mib']:.0f} MiB")
    print(f"  cdp_kmeans       : {result['cdp_kmeans_s']:.2f} s, extra peak {result['cdp_extra_peak_mib']:.0f} MiB")
    print(f"  ratio cdp / kmeans = {result['ratio_cdp_over_kmeans']:.2f}")
    for row in result["scaling"]:
        print(f"  density at n = {row['n']:>6}: {row['density_s']:.2f} s, extra peak {row['extra_peak_mib']:.0f} MiB")
    ok = result["ratio_cdp_over_kmeans"] <= 1.0 and result["cdp_extra_peak_mib"] <= 1024
    print("targets met" if ok else "TARGETS MISSED")
    out = Path(__file__).parent / "results" / "cdp_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

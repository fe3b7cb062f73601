"""Time ``python -m stc_utils cluster`` on a 10,000-line file with a cold embedding cache.

    python benchmarks/cluster_speed.py [--n 10000] [--dataset searchsnippets] [--k auto] [--no-map]

Writes a ``label<TAB>text`` file of ``--n`` texts of a benchmark (a stratified subsample),
runs the command line in a fresh process with an empty ``STC_CACHE_DIR`` (so the texts are
embedded, not read from the cache) and reports its wall time and the per-step seconds it
prints (embed, choose K, cluster + confidence, cards, maps), with the machine's load average
before and after and the command's CPU seconds (on a shared machine wall time
overstates what an idle one takes), to stdout and ``benchmarks/results/cluster_speed.json``. Thread count:
whatever the environment says (``OMP_NUM_THREADS``); recorded. Not a test: timings depend on
the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--dataset", default="searchsnippets")
    parser.add_argument("--k", default="auto")
    parser.add_argument("--no-map", action="store_true")
    args = parser.parse_args()
    from stc_utils.data import load_dataset

    ds = load_dataset(args.dataset, n=args.n, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.dataset}_{len(ds)}.tsv"
        path.write_text("".join(f"{ds.class_names[y]}\t{t}\n" for t, y in zip(ds.texts, ds.labels)), encoding="utf-8")
        env = {**os.environ, "STC_CACHE_DIR": str(Path(tmp) / "cache")}  # cold: nothing embedded yet
        cmd = [sys.executable, "-m", "stc_utils", "cluster", str(path), "--k", args.k, "--out", str(Path(tmp) / "out"),
               *(["--no-map"] if args.no_map else [])]
        load_before, t = os.getloadavg()[0], time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        steps = {m[1]: float(m[2]) for m in re.finditer(r"^(\w[\w ]* s): ([\d.]+)$", proc.stdout, re.M)}
        result = {"dataset": args.dataset, "texts": len(ds), "k": args.k, "map": not args.no_map,
                  "wall s": round(wall, 1), "cpu s (user + system)": round(usage.ru_utime + usage.ru_stime, 1),
                  **steps,
                  "chosen k": int(re.search(r"^k: (\d+)$", proc.stdout, re.M)[1]),
                  "evaluation": re.search(r"^evaluation: (.*)$", proc.stdout, re.M)[1],
                  "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "cpus": os.cpu_count(),
                  "load before": round(load_before, 2), "load after": round(os.getloadavg()[0], 2),
                  "bars on stderr": sorted(set(re.findall(r"([A-Za-z][\w ,()-]+?):\s+\d+%\|", proc.stderr)))}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    out = ROOT / "benchmarks" / "results" / "cluster_speed.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line.

``python -m stc_utils run --dataset stackoverflow``: load a benchmark (verified), embed it
with the BERT model (cached), run K-means over several seeds and print ACC / NMI / ARI as
mean ± std with the timings of each step. K is the number of classes unless ``--k N`` sets
it, or ``--k auto`` chooses it without labels (lesson 07: ``stc_utils.cluster.choose_k`` over
K = 2..``--k-max``, printing the chosen K and the criterion table before the results).

``python -m stc_utils bench --datasets ... --methods all --seeds 5 --out results/bench.csv``:
every method of lessons 02-05 and 08 on every dataset and seed, one CSV row each, resumable
(``stc_utils.runner``); lesson 05's few-label methods join with ``--label-fraction 0.1``.
``python -m stc_utils cluster FILE --out DIR``: cluster your own texts.

``python -m stc_utils check``: an environment check, one ``[OK]`` / ``[FAIL]`` line per
dependency, model and dataset file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import is_fast_run, seed_everything


def run(args) -> int:
    import pandas as pd

    from .cluster import choose_k, kmeans_seeds, small_corpus_warning, summary_row
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
        k = ds.n_classes if args.k is None else args.k
        if k == "auto":
            k, table = choose_k(x, range(2, min(args.k_max, len(ds) - 1) + 1), method=args.criterion,
                                criteria=[args.criterion])
            print(f"[{name}] chosen K = {k} ({args.criterion}, K = 2..{table.index.max()}, no labels used; "
                  f"the data has {ds.n_classes} classes)")
            print(table.round(4).to_string() + "\n")
            if small_corpus_warning(len(ds), args.criterion):
                print(small_corpus_warning(len(ds), args.criterion), file=sys.stderr)
        t2b = time.perf_counter()
        if k > len(ds):
            raise ValueError(f"--k {k} is more than the {len(ds)} texts of {name}; use fewer clusters or more texts")
        runs = kmeans_seeds(x, ds.labels, n_clusters=k, seeds=range(args.seeds), n_init=args.n_init)
        t3 = time.perf_counter()
        stats = summary_row(runs)
        rows.append({
            "dataset": name, "texts": len(ds), "classes": ds.n_classes, "k": k, **stats,
            "load s": round(t1 - t0, 2), "embed s": round(t2 - t1, 2),
            **({"choose-k s": round(t2b - t2, 2)} if args.k == "auto" else {}),
            "k-means s/seed": round((t3 - t2b) / args.seeds, 2),
        })
        print(f"[{name}] {len(ds)} texts, model {encoder.name}, pooling {args.pooling}: "
              + ", ".join(f"{k.upper()} {v}" for k, v in stats.items()), file=sys.stderr)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))
    return 0


def check() -> int:
    """Print ``[OK]``/``[FAIL]``/``[--]`` per requirement; exit 1 if anything required fails."""
    import importlib
    import os

    failed = 0

    def line(ok, what, detail=""):
        nonlocal failed
        tag = {True: "[OK]  ", False: "[FAIL]", None: "[--]  "}[ok]
        failed += ok is False
        print(f"{tag} {what}" + (f": {detail}" if detail else ""))

    for module in ["torch", "transformers", "sentence_transformers", "sklearn", "scipy", "gensim",
                   "pooch", "tqdm", "nltk", "pandas", "matplotlib", "plotly"]:
        try:
            mod = importlib.import_module(module)
            line(True, module, getattr(mod, "__version__", ""))
        except ImportError as err:
            line(False, module, str(err))
    import torch

    line(torch.__version__.startswith("2.13.0") or None, "torch pinned to 2.13.0", torch.__version__)
    line(True if torch.cuda.is_available() else None, "CUDA",
         torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available: lessons run on the CPU")
    from .embed import ModelNotAvailableError, default_model_path, default_precision

    try:
        line(True, "bundled all-MiniLM-L6-v2 (sha256 verified)", str(default_model_path()))
    except ModelNotAvailableError as err:
        line(False, "bundled all-MiniLM-L6-v2", str(err))
    line(True, "CPU embedding precision", default_precision("cpu"))
    from .config import env_flag
    from .data import DATASETS, WORD2VEC, ChecksumError, DataError, fetch_file

    offline = env_flag("STC_OFFLINE")
    for folder, remote in [(i.name, f) for i in DATASETS.values() for f in i.files()] + \
            [("word2vec", f) for f in WORD2VEC.values()]:
        try:
            line(True, f"{folder}/{remote.filename}", str(fetch_file(folder, remote, download=False)))
        except ChecksumError as err:
            line(False, f"{folder}/{remote.filename}", str(err))
        except DataError as err:
            if offline:
                line(False, f"{folder}/{remote.filename}", str(err).split(". ")[0])
            else:
                line(None, f"{folder}/{remote.filename}", f"not on disk yet; downloaded from {remote.url} on first use")
    try:
        import nltk

        nltk.data.find("corpora/wordnet.zip")
        line(True, "NLTK WordNet", os.environ.get("NLTK_DATA", "NLTK default path"))
    except LookupError:
        line(None, "NLTK WordNet", "not found: set NLTK_DATA (needed by later lessons only)")
    print("environment ready" if not failed else f"{failed} check(s) failed")
    return 1 if failed else 0


def bench(args) -> int:
    import torch
    from threadpoolctl import threadpool_limits

    from .runner import bench as run_bench, markdown_table

    torch.set_num_threads(args.threads)
    fast = args.fast or is_fast_run()
    with threadpool_limits(args.threads):
        rows = run_bench(args.datasets, args.methods, args.seeds, args.out, n=args.n if args.n else (2000 if fast else None),
                         fast=fast, device=args.device, label_fraction=args.label_fraction)
    print(markdown_table(rows))
    print(f"{len(rows)} rows in {args.out}")
    return 0


def cluster(args) -> int:
    from .runner import MAX_TOKENS, cluster_file

    summary = cluster_file(args.file, args.out, k=args.k, method=args.method, seed=args.seed, file_format=args.format,
                           text_col=args.text_col, label_col=None if args.no_labels else args.label_col,
                           model=args.model, device=args.device, encoding=args.encoding, force=args.force,
                           make_map=not args.no_map, runs=args.runs)
    table, k_warning = summary.pop("k table"), summary.pop("k warning")
    if table is not None:
        print(f"chosen K = {summary['k']} without labels; the criterion table:")
        print(table.round(4).to_string() + "\n")
    if k_warning:
        print(k_warning, file=sys.stderr)
    for key, value in summary.items():
        print(f"{key}: {value}")
    if summary["truncated"]:
        print(f"note: {summary['truncated']} of {summary['texts']} texts are longer than the model's {MAX_TOKENS}-token "
              "window; only their first tokens were embedded", file=sys.stderr)
    print(f"wrote assignments.csv, clusters.md{'' if args.no_map else ', map.png, map.html'}"
          f"{', evaluation.json' if 'evaluation' in summary else ''}{', model.pt' if args.method == 'dec' else ''}"
          f" to {args.out}")
    return 0


def _k_arg(value: str):
    if value == "auto":
        return value
    try:
        return _int_arg(2)(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"takes 'auto' or a number of clusters (2 or more), got {value!r}") from None


def _int_arg(low: int):
    def parse(value: str) -> int:
        try:
            if int(value) >= low:
                return int(value)
        except ValueError:
            pass
        raise argparse.ArgumentTypeError(f"takes a whole number of at least {low}, got {value!r}")
    return parse


def _encoding_arg(value: str) -> str:
    import codecs

    try:
        return codecs.lookup(value).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {value!r} (e.g. utf-8, cp1252, latin-1, utf-16)") from None


def main(argv=None) -> int:
    from .cluster import BIC_MIN_TEXTS, CRITERIA, RECOMMENDED

    parser = argparse.ArgumentParser(prog="python -m stc_utils", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="embed a benchmark, cluster it with K-means, print the results")
    p.add_argument("--dataset", nargs="+", default=["stackoverflow"],
                   help="one or more of: stackoverflow searchsnippets biomedical thucnews")
    p.add_argument("--model", default=None, help="HF model name or folder (default: bundled MiniLM)")
    p.add_argument("--pooling", default="mean", choices=["mean", "cls", "pooler"])
    p.add_argument("--max-length", type=_int_arg(2), default=128)
    p.add_argument("--seeds", type=_int_arg(1), default=3, help="K-means seeds 0..N-1 (default 3)")
    p.add_argument("--n-init", type=_int_arg(1), default=10)
    p.add_argument("--k", type=_k_arg, default=None,
                   help="number of clusters, or 'auto' to choose it without labels (default: the number of classes)")
    p.add_argument("--k-max", type=_int_arg(3), default=40, help="--k auto tries K = 2..K_MAX (default 40)")
    p.add_argument("--criterion", default=RECOMMENDED, choices=CRITERIA,
                   help=f"--k auto's criterion (default {RECOMMENDED}, lesson 07)")
    p.add_argument("--n", type=_int_arg(10), default=None,
                   help="stratified subsample size (default: all; 2000 when STC_FAST=1)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: $STC_DEVICE or auto)")
    p.add_argument("--no-cache", action="store_true", help="recompute the embeddings")
    from .data import available_datasets
    from .runner import CLUSTER_METHODS, METHODS

    p = sub.add_parser("bench", help="every method x dataset x seed, one CSV row each, resumable",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="methods (lesson: what):\n" + "\n".join(f"  {m:15s} {lesson}: {what}"
                                                                       for m, (lesson, what) in METHODS.items()))
    p.add_argument("--datasets", nargs="+", default=["stackoverflow", "searchsnippets", "biomedical"],
                   help=f"one or more of: {' '.join(available_datasets())} (default: the first three English ones)")
    p.add_argument("--methods", nargs="+", default=["all"],
                   help="names listed below, or all (every unsupervised one; with --label-fraction the few-label ones too)")
    p.add_argument("--seeds", type=_int_arg(1), default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument("--out", type=Path, default=Path("results/bench.csv"), help="the CSV; rows already there are kept")
    p.add_argument("--n", type=_int_arg(3), default=None, help="stratified subsample size (default: all; 2000 with --fast)")
    p.add_argument("--fast", action="store_true", help="2,000 texts and lesson 04's FAST_SETTINGS (also STC_FAST=1)")
    p.add_argument("--label-fraction", type=float, default=None,
                   help="adds lesson 05's few-label methods: the share of each class's labels they see (e.g. 0.1)")
    p.add_argument("--threads", type=_int_arg(1), default=1,
                   help="torch/OpenMP threads (default 1: the small DEC models run slower with two on 2 cores)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: $STC_DEVICE or auto)")
    p = sub.add_parser("cluster", help="cluster your own texts: assignments, cluster cards, a map",
                       description="Cluster the texts of FILE; write assignments.csv, clusters.md, map.png, map.html "
                       "(and evaluation.json when FILE has labels, model.pt with --method dec) to --out.")
    p.add_argument("file", help="the texts: one a line, label<TAB>text, text<TAB>label, .csv or .jsonl (see --format)")
    p.add_argument("--out", type=Path, required=True,
                   help="folder for the results; it must be new, empty or an earlier run's (see --force)")
    p.add_argument("--force", action="store_true",
                   help="write into an --out that holds other files (they are left alone; the results are replaced)")
    p.add_argument("--format", default="auto", choices=["auto", "label-text", "text-label", "text", "csv", "jsonl"],
                   help="label-text: label<TAB>text lines; text-label: text<TAB>label; text: one text a line, no "
                        "labels (tabs kept in the text); csv: a header row, see --text-col/--label-col; jsonl: one JSON "
                        "object a line. auto (default): .csv and .jsonl by extension, else label-text when every line "
                        "has a TAB, text when none has; a mix is refused with the line numbers")
    p.add_argument("--encoding", type=_encoding_arg, default="utf-8", help="the file's encoding (default utf-8)")
    p.add_argument("--text-col", default="text", help="CSV column / JSON field of the texts")
    p.add_argument("--label-col", default="label", help="CSV column / JSON field of the labels, if any")
    p.add_argument("--no-labels", action="store_true", help="ignore labels even if the file has them")
    p.add_argument("--k", type=_k_arg, default="auto",
                   help="number of clusters (2 .. the number of distinct texts), or auto (default): chosen without "
                        f"labels by BIC over K = 2 .. min(40, n/10) (lesson 07; it warns below {BIC_MIN_TEXTS:,} "
                        "texts, where BIC chose too few clusters)")
    p.add_argument("--method", default="kmeans", choices=CLUSTER_METHODS,
                   help="kmeans (default): MiniLM vectors + K-means, 10 starts (lesson 00); cdp: K-means from density "
                        "peak starts (lesson 03); dec: autoencoder + DEC (lesson 04), slower, saves model.pt; "
                        "scan: 10 SCAN heads trained on the MiniLM vectors so that neighbours agree, then they vote (lesson 08; "
                        "needs more than 20 texts; about 4-7 minutes for 12,000-20,000 texts on one CPU thread); scan_hybrid: the "
                        "same on the MiniLM vectors beside TF-IDF + LSA of the words (lesson 08c; the texts must share words); "
                        "hybrid_kmeans: K-means on those joined vectors (lesson 08c: StackOverflow 0.791 against 0.721 "
                        "on MiniLM alone, but lower on SearchSnippets and Biomedical); n2d: a Gaussian mixture on UMAP's K-d map "
                        "of the MiniLM vectors (lesson 08d); n2d_ic: K-means on that map, then classifiers on the words (TF-IDF) and "
                        "on MiniLM relabel the texts round after round (lesson 08e); n2d_hybrid_ic: the same from the map of "
                        "hybrid_kmeans' joined vectors (lesson 08e: over five seeds SearchSnippets 0.856, StackOverflow 0.841, "
                        "Biomedical 0.507, against 0.812 / 0.784 / 0.505 for n2d_ic; 0.848 / 0.836 / 0.520 over 20 runs on four "
                        "CPUs; the texts must share words; see --runs); n2d_hybrid_ic_vote: the runner's name for "
                        "n2d_hybrid_ic --runs 5 --seed 5 x SEED (lesson 08f: the runs' majority, five times the time)")
    p.add_argument("--seed", type=_int_arg(0), default=0,
                   help="random seed of K-means, DEC, SCAN, UMAP and the map (default 0): the same file and seed give the same "
                        "clusters on the same machine (another CPU may compute MiniLM's vectors in other last bits, and "
                        "UMAP then draws another map: lesson 08f, section 1)")
    p.add_argument("--runs", type=_int_arg(1), default=1,
                   help="n2d_hybrid_ic only: run it from seeds SEED .. SEED+RUNS-1 and keep the runs' majority, RUNS times "
                        "the time (lesson 08f: on SearchSnippets 5 runs gave 0.859-0.864 in each of ten groups of five, where "
                        "single runs ranged 0.791-0.878; default 1)")
    p.add_argument("--no-map", action="store_true", help="skip map.png and map.html (the slowest outputs)")
    p.add_argument("--model", default=None, help="HF model name or folder (default: bundled MiniLM)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: $STC_DEVICE or auto)")
    sub.add_parser("check", help="check dependencies, the bundled model and the dataset files")
    args = parser.parse_args(argv)
    if args.command == "check":
        return check()
    if args.command in ("run", "bench", "cluster"):
        from .data import DataError
        from .embed import ModelNotAvailableError

        try:
            return {"run": run, "bench": bench, "cluster": cluster}[args.command](args)
        except (DataError, ModelNotAvailableError, KeyError, ValueError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            print(f"error: {msg}", file=sys.stderr)
            return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())

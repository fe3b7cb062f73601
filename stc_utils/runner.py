"""The researcher's runner and the user's own texts: every lesson's method from one command.

Gathers lessons 02-05 and 08 (``python -m stc_utils bench``; the few-label methods of lesson 05 with
``--label-fraction``) and applies them to a file of your own
(``python -m stc_utils cluster FILE``); the README's Results section is generated from the
runner's CSV by ``tools/results_table.py``.

- :data:`METHODS`  name -> (lesson, what it is); :func:`run_method` computes one (dataset, method, seed)
- :func:`bench`  the resumable loop: one CSV row per (dataset, method, seed, configuration);
  rows already in the file are skipped, and the file is rewritten atomically after every row,
  so a run killed at any moment loses at most the row in progress
- :func:`cluster_file`  your texts -> ``assignments.csv``, ``clusters.md`` (sizes, class-based
  TF-IDF terms, the texts nearest each centre), ``map.png`` and, with labels, ``evaluation.json``
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

METHODS = {
    "tfidf_kmeans": ("02", "TF-IDF + LSA (100-d) + K-means"),
    "w2v_sif_kmeans": ("02", "Word2Vec STC² 48-d, SIF + K-means"),
    "bert_kmeans": ("00", "MiniLM mean pooling + K-means"),
    "bert_cdp": ("03", "MiniLM + K-means from CDP starts"),
    "ae_kmeans": ("04", "MiniLM + autoencoder + K-means on the codes"),
    "dec": ("04", "MiniLM + autoencoder + DEC"),
    "idec": ("04", "MiniLM + autoencoder + IDEC"),
    "self_train": ("04b", "Self-Train: Word2Vec SIF + autoencoder + DEC (argmax q)"),
    "sccl": ("05", "MiniLM top layer + InfoNCE + DEC KL, zero labels (SCCL mode)"),
    "scan": ("08", "MiniLM + SCAN heads (k-NN agreement + entropy), consensus of the 10 heads"),
    "scan_head": ("08", "the same SCAN fit, lowest-loss head only (SCAN's rule; ablation of scan)"),  # its seconds: scan's
    "hybrid_kmeans": ("08c", "MiniLM beside TF-IDF + LSA (100-d), equal weight, + K-means"),
    "scan_hybrid": ("08c", "SCAN heads on MiniLM beside TF-IDF + LSA (100-d), consensus of the 10 heads"),
    "n2d": ("08d", "N2D: MiniLM + UMAP to K dimensions + Gaussian mixture"),
    "n2d_kmeans": ("08d", "the same UMAP map, K-means (10 starts) instead of the mixture (ablation of n2d)"),
    "n2d_ic": ("08e", "n2d_kmeans, then iterative classification: TF-IDF and MiniLM logistic regressions"),
    "bert_ic": ("08e", "bert_kmeans, then the same iterative classification (ablation of n2d_ic's start)"),
    "n2d_hybrid_kmeans": ("08e", "N2D's UMAP map of MiniLM beside TF-IDF + LSA, K-means (n2d_hybrid_ic's start)"),
    "n2d_hybrid_ic": ("08e", "n2d_hybrid_kmeans, then the same iterative classification"),
    "n2d_hybrid_ic_vote": ("08f", "the majority of 5 n2d_hybrid_ic runs (seed s: runs 5s .. 5s+4), clusters matched"),
    "fewlabel_lr": ("05", "few labels: logistic regression on MiniLM vectors (the starting point)"),
    "fewlabel": ("05", "few labels: MiniLM top layer + pseudo-labels + InfoNCE + KL + purity"),
}
DEC_FAMILY = ("ae_kmeans", "dec", "idec", "self_train")
N2D_FAMILY = ("n2d", "n2d_kmeans", "n2d_ic", "n2d_hybrid_kmeans", "n2d_hybrid_ic")
FEW_LABELS = ("fewlabel_lr", "fewlabel")  # need --label-fraction; scored on the texts whose labels were hidden
SCORES = ("acc", "nmi", "ami", "ari", "f1")
KEY = ("dataset", "method", "seed", "n", "fast", "label_fraction")
VOTE_RUNS = 5  # n2d_hybrid_ic_vote: seed s votes n2d_hybrid_ic's seeds 5s .. 5s+4 (lesson 08f's groups)
SCCL_ROUNDS = 3  # lesson 05's full run: <= 3 rounds (one epoch each over all texts)
HOLDOUT = 0.2  # V1's share of the seen labels, for fewlabel and for its LR starting point alike


def check_names(names, known, what: str, all_means=None) -> list[str]:
    """``names`` (``all`` expands to ``all_means``, default every known one) or a ValueError listing the known ones."""
    names = list(all_means or known) if list(names) == ["all"] else list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; known: {', '.join(known)} (or all)")
    return names


def hide_labels(labels, fraction: float, seed: int) -> np.ndarray:
    """-1 everywhere except a stratified ``fraction`` of each class (at least 2 per class: one for
    lesson 05's validation set V1, one to train on), chosen with ``seed``."""
    labels = np.asarray(labels)
    rng, out = np.random.default_rng(seed), np.full(len(labels), -1)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        chosen = rng.choice(idx, min(len(idx), max(2, round(fraction * len(idx)))), replace=False)
        out[chosen] = labels[chosen]
    return out


class Inputs:
    """One dataset and its representations, each computed once (BERT vectors come from the cache)."""

    def __init__(self, name: str, n: int | None, device=None):
        from .data import load_dataset

        self.name, self.device, self._memo = name, device, {}
        self.frozen = {}  # lesson 05's frozen lower-layer states per text, shared by this dataset's fits
        self.ds = load_dataset(name, n=n, seed=0)

    def get(self, rep: str):
        from sklearn.preprocessing import normalize

        from . import embed

        if rep not in self._memo:
            texts = self.ds.texts
            if rep == "bert":
                self._memo[rep] = embed.embed_texts(texts, device=self.device, progress=False)
            elif rep == "words":  # sparse TF-IDF, lesson 08e's second view
                self._memo[rep] = embed.tfidf(texts)
            elif rep == "tfidf":
                self._memo[rep] = normalize(embed.tfidf_lsa(texts, n_components=100, seed=0))
            elif rep == "hybrid":
                self._memo[rep] = embed.hybrid(self.get("bert"), texts, n_components=100, seed=0)
            elif rep in ("w2v", "w2v_self_train"):  # lesson 02's SIF; Self-Train's (a = 0.1, count)
                from .autoencoder import SELF_TRAIN_SIF
                from .data import load_word2vec

                sif = SELF_TRAIN_SIF if rep == "w2v_self_train" else {}
                self._memo[rep] = embed.sif_embed([embed.tokenize(t) for t in texts], load_word2vec(self.name), **sif)
        return self._memo[rep]


# --------------------------------------------------------------------------- lesson 04's comparison (one seed)


def compare_methods(x, y, n_clusters: int, seed: int = 0, settings: dict | None = None,
                    methods=("kmeans", "ae_kmeans", "dec", "idec"), x_w2v=None,
                    scores=("acc", "nmi", "ari")) -> list[dict]:
    """One row per method for one seed, labels ``y`` used only to score each result.

    ``kmeans`` on ``x``; ``ae_kmeans``: pretrain an autoencoder, K-means on its codes (DEC's
    start); ``dec`` and ``idec`` (``gamma``) refine copies of the *same* pretrained model;
    ``self_train``: :func:`stc_utils.autoencoder.fit_self_train` with the same settings on ``x_w2v`` (SIF Word2Vec with
    :data:`stc_utils.autoencoder.SELF_TRAIN_SIF`), labelled as ``SELF_TRAIN_SETTINGS['final']`` says (DEC's argmax q). ``seconds`` counts every stage a method needs.
    """
    from .autoencoder import SETTINGS, DECModel, fit_self_train, input_scale, kmeans_centers, pretrain_autoencoder
    from .cluster import kmeans
    from .metrics import evaluate

    s = {**SETTINGS, **(settings or {})}
    rows = []

    def add(method, labels, seconds, result=None, **extra):
        values = evaluate(y, labels)
        info = {} if result is None else {"stop_reason": result.stop_reason, "steps": result.steps,
                                          "mean_max_q": result.history[-1]["mean_max_q"]}
        rows.append({"method": method, "seed": seed, **{m: values[m] for m in scores}, "seconds": round(seconds, 2),
                     "stop_reason": None, **info, **extra})

    def pipeline(inputs):
        start = time.perf_counter()
        scale = input_scale(inputs)
        ae, hist = pretrain_autoencoder(inputs * scale, s["dims"], s["ae_epochs"], s["batch_size"], s["ae_lr"],
                                        seed=seed, progress=False)
        centers, labels = kmeans_centers(ae.encode(inputs * scale), n_clusters, seed, n_init=s["n_init"])
        return DECModel(ae, centers, scale=scale), labels, time.perf_counter() - start, hist

    dec_args = {k: s[k] for k in ("update_interval", "tol", "batch_size")}
    dec_args.update(lr=s["dec_lr"], steps=s["max_steps"])
    if "kmeans" in methods:
        start = time.perf_counter()
        add("kmeans", kmeans(x, n_clusters, seed=seed, n_init=s["n_init"]), time.perf_counter() - start)
    if {"ae_kmeans", "dec", "idec"} & set(methods):
        base, labels, t0, hist = pipeline(x)
        add("ae_kmeans", labels, t0, ae_mse=round(hist[-1], 4))
        for method, gamma in (("dec", 0.0), ("idec", s["gamma"])):
            if method in methods:
                start, model = time.perf_counter(), base.copy()
                result = model.refine(x, seed=seed, gamma=gamma, **dec_args)
                add(method, result.labels, t0 + time.perf_counter() - start, result)
    if "self_train" in methods:
        labels, result, info = fit_self_train(x_w2v, n_clusters, seed, {**s, "final_n_init": s["n_init"]})
        add("self_train", labels, info["seconds"], result, dec_acc=evaluate(y, result.labels)["acc"])
    return rows


def run_method(inputs: Inputs, method: str, seed: int, fast: bool, label_fraction: float = 0.0) -> dict:
    """Scores, seconds, stop reason and settings of one method on one seed.

    Labels only score, except for :data:`FEW_LABELS`, which see ``label_fraction`` of them
    (:func:`hide_labels`) and are scored on the other texts: ACC is then the plain accuracy of
    the predicted classes and F1 their macro F1 (no matching: a classifier names its classes).
    """
    from sklearn.preprocessing import normalize

    from .autoencoder import FAST_SETTINGS, SELF_TRAIN_SIF, SETTINGS
    from .cluster import HYBRID_INPUT, IC_SETTINGS, N2D_SETTINGS, iterative_classification, kmeans, n2d
    from .config import get_device
    from .embed import default_precision
    from .metrics import evaluate

    y, k = inputs.ds.labels, inputs.ds.n_classes
    precision = default_precision(get_device(inputs.device))  # of the MiniLM vectors, recorded in the settings
    if method in DEC_FAMILY:
        settings = FAST_SETTINGS if fast else SETTINGS
        family = ("self_train",) if method == "self_train" else ("ae_kmeans", "dec", "idec")  # one pretraining
        if (family, seed, fast) not in inputs._memo:
            x_w2v = inputs.get("w2v_self_train") if method == "self_train" else None
            rows = compare_methods(inputs.get("bert") if x_w2v is None else None, y, k, seed=seed, settings=settings,
                                   methods=family, x_w2v=x_w2v, scores=SCORES)
            inputs._memo[family, seed, fast] = {r["method"]: r for r in rows}
        row = inputs._memo[family, seed, fast][method]
        settings = {**settings, "sif": SELF_TRAIN_SIF} if method == "self_train" else settings
        return {**{s: row[s] for s in SCORES}, "seconds": row["seconds"], "stop_reason": row["stop_reason"],
                "settings": json.dumps(settings, sort_keys=True)}
    if method == "sccl" or method in FEW_LABELS:
        return _run_lesson05(inputs, method, seed, fast, label_fraction)
    if method in ("scan", "scan_head", "scan_hybrid"):  # one fit per seed serves scan and scan_head
        from .scan import SCAN_SETTINGS, fit_scan

        settings = {**SCAN_SETTINGS, **({"epochs": 3} if fast else {}), "consensus": True}
        rep = "hybrid" if method == "scan_hybrid" else "bert"
        memo = ("scan", rep, seed, fast)
        if memo not in inputs._memo:
            inputs._memo[memo] = fit_scan(inputs.get(rep), k, seed=seed, device=inputs.device, progress=False,
                                          **settings)
        fit = inputs._memo[memo]
        scores = evaluate(y, fit.head_labels[fit.head] if method == "scan_head" else fit.labels)
        settings["consensus"] = method != "scan_head"
        return {**{s: scores[s] for s in SCORES}, "seconds": round(fit.seconds, 2), "stop_reason": fit.stop_reason,
                "settings": json.dumps({**settings, "head": fit.head, "epochs_run": len(fit.history),
                                        **({"words": "tfidf_lsa 100-d, equal weight"} if rep == "hybrid" else {}),
                                        "precision": precision},
                                       sort_keys=True)}
    if method == "bert_ic":
        x, start = inputs.get("bert"), time.perf_counter()
        labels, history = iterative_classification([inputs.get("words"), x], kmeans(x, k, seed=seed, n_init=10), x,
                                                   seed=seed)
        scores = evaluate(y, labels)
        settings = {"start": "bert_kmeans (n_init 10)", "ic": {**IC_SETTINGS, "start": "K-means on MiniLM"},
                    "rounds": len(history), "precision": precision}
        return {**{s: scores[s] for s in SCORES}, "seconds": round(time.perf_counter() - start, 2),
                "stop_reason": _ic_stop(history), "settings": json.dumps(settings, sort_keys=True)}
    if method == "n2d_hybrid_ic_vote":  # lesson 08f: groups of VOTE_RUNS runs, no run shared between seeds
        from .scan import consensus

        seeds = list(range(VOTE_RUNS * seed, VOTE_RUNS * (seed + 1)))
        runs = [run_method(inputs, "n2d_hybrid_ic", s, fast) for s in seeds]  # memoises each run's labels
        start = time.perf_counter()
        labels = consensus(np.stack([inputs._memo["labels", "n2d_hybrid_ic", s] for s in seeds]), k, how="majority")
        scores, one = evaluate(y, labels), json.loads(runs[0]["settings"])
        settings = {**{key: v for key, v in one.items() if key != "rounds"}, "vote": {
            "runs": VOTE_RUNS, "seeds": seeds, "rounds": [json.loads(r["settings"])["rounds"] for r in runs],
            "how": "majority after matching each run's clusters to the run that agrees most with the others "
                   "(scan.consensus, how='majority')", "runs_acc (scored only)": [round(r["acc"], 4) for r in runs]}}
        settled = sum(r["stop_reason"] == "tol" for r in runs)
        return {**{s: scores[s] for s in SCORES},
                "seconds": round(sum(r["seconds"] for r in runs) + time.perf_counter() - start, 2),
                "stop_reason": f"tol in {settled} of {VOTE_RUNS} runs", "settings": json.dumps(settings, sort_keys=True)}
    if method in N2D_FAMILY:  # one UMAP map per seed and input serves n2d, n2d_kmeans and n2d_ic
        rep = "hybrid" if "hybrid" in method else "bert"
        if ("n2d", rep, seed) not in inputs._memo:  # the hybrid map needs no mixture
            inputs._memo["n2d", rep, seed] = n2d(inputs.get(rep), k, seed=seed, mixture=rep == "bert")
        labels, z, seconds = inputs._memo["n2d", rep, seed]
        settings, stop = {**N2D_SETTINGS, "precision": precision}, None
        if rep == "hybrid":
            settings["input"] = HYBRID_INPUT
        if method != "n2d":
            if ("n2d_kmeans", rep, seed) not in inputs._memo:
                start = time.perf_counter()
                inputs._memo["n2d_kmeans", rep, seed] = kmeans(z, k, seed=seed, n_init=10), time.perf_counter() - start
            labels, more = inputs._memo["n2d_kmeans", rep, seed]
            seconds += more
            settings = {**settings, "clusterer": "kmeans n_init 10"}
        if method.endswith("_ic"):
            start = time.perf_counter()
            x = inputs.get("bert")
            labels, history = iterative_classification([inputs.get("words"), x], labels, x, seed=seed)
            seconds += time.perf_counter() - start  # the TF-IDF view is counted too (memoised by get)
            ic = {**IC_SETTINGS, "start": "K-means (10 starts) on N2D's map of the hybrid vectors"} if rep == "hybrid" \
                else IC_SETTINGS
            settings = {**settings, "ic": ic, "rounds": len(history)}
            stop = _ic_stop(history)
        inputs._memo["labels", method, seed] = labels  # n2d_hybrid_ic_vote's runs
        scores = evaluate(y, labels)
        return {**{s: scores[s] for s in SCORES}, "seconds": round(seconds, 2), "stop_reason": stop,
                "settings": json.dumps(settings, sort_keys=True)}
    rep, init = {"tfidf_kmeans": ("tfidf", "k-means++"), "w2v_sif_kmeans": ("w2v", "k-means++"),
                 "bert_kmeans": ("bert", "k-means++"), "bert_cdp": ("bert", "cdp"),
                 "hybrid_kmeans": ("hybrid", "k-means++")}[method]
    x = inputs.get(rep)
    x = normalize(x) if rep == "w2v" else x
    extra = {"precision": precision} if rep in ("bert", "hybrid") else {}
    start = time.perf_counter()
    labels = kmeans(x, k, seed=seed, n_init=10, init=init)
    scores = evaluate(y, labels)
    return {**{s: scores[s] for s in SCORES}, "seconds": round(time.perf_counter() - start, 2), "stop_reason": None,
            "settings": json.dumps({"n_init": 10, "init": init, **extra})}


def _ic_stop(history) -> str:
    """Why iterative classification stopped: "tol" (under IC_SETTINGS' share of texts changed) or "max_rounds"."""
    from .cluster import IC_SETTINGS

    return "tol" if history and history[-1] < IC_SETTINGS["tol"] else "max_rounds"


def _run_lesson05(inputs: Inputs, method: str, seed: int, fast: bool, label_fraction: float) -> dict:
    from sklearn.metrics import f1_score

    from .contrastive import fit_semisupervised, holdout_split, start_classifier
    from .metrics import evaluate

    y, k, texts = inputs.ds.labels, inputs.ds.n_classes, inputs.ds.texts
    settings = {"max_rounds": 1 if fast else SCCL_ROUNDS}  # the other settings: fit_semisupervised's defaults
    start = time.perf_counter()
    if method == "sccl":
        fit = fit_semisupervised(texts, None, n_clusters=k, seed=seed, device=inputs.device, cache=inputs.frozen,
                                 **settings)
        scores = evaluate(y, fit.labels)
        return {**{s: scores[s] for s in SCORES}, "seconds": round(time.perf_counter() - start, 2),
                "stop_reason": fit.stop_reason, "settings": json.dumps(settings, sort_keys=True)}
    seen = hide_labels(y, label_fraction, seed)
    hidden = np.flatnonzero(seen < 0)
    if method == "fewlabel":
        fit = fit_semisupervised(texts, seen, holdout=HOLDOUT, seed=seed, device=inputs.device, cache=inputs.frozen,
                                 **settings)
        pred, stop = fit.labels, fit.stop_reason
    else:  # the starting point of fit_semisupervised: LR on the same L (V1 held out the same way), C by CV on L
        x, (_, train) = inputs.get("bert"), holdout_split(seen, HOLDOUT, seed)
        pred, stop, settings = start_classifier(x[train], y[train], seed).predict(x), None, {}
    scores = evaluate(y[hidden], pred[hidden])
    scores |= {"acc": float(np.mean(pred[hidden] == y[hidden])),
               "f1": float(f1_score(y[hidden], pred[hidden], average="macro"))}
    settings |= {"label_fraction": label_fraction, "labelled": int(len(y) - len(hidden)),
                 "scored_on": "the texts whose labels were hidden", "acc, f1": "plain accuracy, macro F1 (no matching)"}
    return {**{s: scores[s] for s in SCORES}, "seconds": round(time.perf_counter() - start, 2), "stop_reason": stop,
            "settings": json.dumps(settings, sort_keys=True)}


def read_rows(path: Path) -> pd.DataFrame:
    """The rows of a bench CSV; a ValueError (the file untouched) when it is something else or cut short."""
    if path.exists() and not path.is_file():
        raise ValueError(f"--out {path} is not a file; give the path of a CSV")
    if not (path.is_file() and path.stat().st_size):
        return pd.DataFrame(columns=[*KEY, *SCORES])
    try:
        rows = pd.read_csv(path, dtype={"stop_reason": str})
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"--out {path} cannot be read as a CSV ({str(err).strip().splitlines()[0]}; cut short?); "
                         "left as it is: give a new file, or fix or move this one") from None
    if "label_fraction" not in rows:  # a CSV from before the few-label methods: all unsupervised
        rows.insert(min(KEY.index("label_fraction"), len(rows.columns)), "label_fraction", 0.0)
    missing = [c for c in [*KEY, *SCORES, "seconds"] if c not in rows]
    cut = rows[[*KEY, *SCORES]].isna().any(axis=1) if not missing else []
    if missing or any(cut):
        what = f"has no column(s) {', '.join(missing)}" if missing else \
            f"has incomplete row(s) at line(s) {', '.join(str(i + 2) for i in np.flatnonzero(cut)[:5])} (cut short?)"
        raise ValueError(f"--out {path} is not a complete bench CSV: it {what}; left as it is: give a new file, "
                         "or fix or move this one")
    return rows


def write_rows(rows: pd.DataFrame, path: Path) -> None:
    """Write to a temporary file, then rename: the CSV is always the old or the new version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    rows.to_csv(tmp, index=False)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def bench(datasets, methods, seeds: int, out, n: int | None = None, fast: bool = False, device=None,
          progress: bool = True, label_fraction: float | None = None) -> pd.DataFrame:
    """Every (dataset, method, seed) not yet in ``out``; returns all rows of ``out``.

    ``methods=["all"]``: every unsupervised method, and :data:`FEW_LABELS` too when
    ``label_fraction`` is given (the share of each class's labels they may see).
    """
    from tqdm.auto import tqdm

    from .data import available_datasets

    datasets = check_names(datasets, available_datasets(), "dataset")
    unsupervised = [m for m in METHODS if m not in FEW_LABELS]
    methods = check_names(methods, METHODS, "method", unsupervised + (list(FEW_LABELS) if label_fraction else []))
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    if label_fraction is not None and not 0 < label_fraction < 1:
        raise ValueError(f"the label fraction (--label-fraction) must lie strictly between 0 and 1, got {label_fraction}")
    if not label_fraction and set(methods) & set(FEW_LABELS):
        raise ValueError(f"{', '.join(m for m in methods if m in FEW_LABELS)} need(s) a label fraction "
                         "(--label-fraction 0.1: 10 % of each class's labels are seen)")
    out = Path(out)
    rows = read_rows(out)
    n_key = -1 if n is None else int(n)  # -1: all texts
    done = {tuple(r) for r in rows[list(KEY)].astype(str).itertuples(index=False)}
    frac = {m: float(label_fraction) if m in FEW_LABELS else 0.0 for m in methods}
    jobs = [(d, m, s) for d in datasets for m in methods for s in range(seeds)
            if (d, m, str(s), str(n_key), str(fast), str(frac[m])) not in done]
    bar = tqdm(total=len(datasets) * len(methods) * seeds, initial=len(datasets) * len(methods) * seeds - len(jobs),
               desc="bench", disable=not progress)
    inputs = None
    for dataset, method, seed in jobs:
        if inputs is None or inputs.name != dataset:
            inputs = Inputs(dataset, n, device)
        bar.set_postfix_str(f"{dataset} {method} seed {seed}")
        result = run_method(inputs, method, seed, fast, frac[method])
        row = {"dataset": dataset, "method": method, "seed": seed, "n": n_key, "fast": fast,
               "label_fraction": frac[method], "texts": len(inputs.ds), "k": inputs.ds.n_classes, **result}
        rows = pd.concat([rows, pd.DataFrame([row])], ignore_index=True) if len(rows) else pd.DataFrame([row])
        write_rows(rows, out)
        bar.update()
    bar.close()
    return rows


def markdown_table(rows: pd.DataFrame, scores=("acc", "nmi", "ari")) -> str:
    """Mean ± std over seeds per (dataset, method), seconds per run, as a markdown table."""
    from .metrics import format_summary, summarize

    lines = ["| dataset | method | " + " | ".join(s.upper() for s in scores) + " | s / run | seeds |",
             "|---" * (len(scores) + 4) + "|"]
    for (dataset, method, frac), g in rows.groupby(["dataset", "method", "label_fraction"], sort=False):
        stats = format_summary(summarize(g.to_dict("records"), scores))
        name = METHODS.get(method, (None, method))[1] + (f" ({frac:.0%} labels; scored on the rest)" if frac else "")
        lines.append(f"| {dataset} | {name} | "
                     + " | ".join(stats[s] for s in scores) + f" | {g['seconds'].mean():.0f} | {len(g)} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- your own texts

CLUSTER_METHODS = ("kmeans", "cdp", "dec", "scan", "scan_hybrid", "hybrid_kmeans", "n2d", "n2d_ic", "n2d_hybrid_ic",
                   "n2d_hybrid_ic_vote")
MAP_EPOCHS = 100  # UMAP's default is 500 epochs up to 10,000 texts, 200 above
MAP_NEIGHBOURS = 15  # UMAP's default
EXACT_KNN_UP_TO = 20_000  # the map's neighbours by brute force up to here (10,000 texts: 5 s), pynndescent above


def class_tfidf_terms(texts, labels, n_terms: int = 8) -> dict[int, list[str]]:
    """Top terms per cluster by class-based TF-IDF (BERTopic, Grootendorst 2022).

    All texts of a cluster form one document; W(t, c) = tf(t, c) / |c| * log(1 + A / f(t)),
    with |c| the cluster's word count, A the mean word count per cluster and f(t) the
    frequency of t over all clusters. English stop words are dropped; HTML entities are
    unescaped and tags removed first.
    """
    import html
    import re

    from sklearn.feature_extraction.text import CountVectorizer

    clusters = sorted(set(labels))
    texts = [re.sub(r"<[^>]*>", " ", html.unescape(t)) for t in texts]  # &gt; &quot; <b>: markup, not words
    docs = [" ".join(t for t, c in zip(texts, labels) if c == k) for k in clusters]
    try:
        vec = CountVectorizer(stop_words="english")
        tf = vec.fit_transform(docs).toarray().astype(float)
    except ValueError:  # only stop words (or no words) in the texts
        return {k: [] for k in clusters}
    words = vec.get_feature_names_out()
    weight = tf / np.maximum(tf.sum(1, keepdims=True), 1) * np.log1p(tf.sum(1).mean() / np.maximum(tf.sum(0), 1))
    return {k: [words[i] for i in np.argsort(-weight[row])[:n_terms] if weight[row, i] > 0]
            for row, k in enumerate(clusters)}


OUTPUTS = ("assignments.csv", "clusters.md", "map.png", "map.html", "evaluation.json", "model.pt")  # cluster's own
MAX_TOKENS = 128  # embed_texts' window: longer texts are embedded from their first 128 tokens


def _short(text: str, limit: int = 300) -> str:
    """``text`` cut at a word boundary near ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + f" … ({len(text):,} characters)"


def _staging(out: Path, force: bool) -> Path:
    """Refuse an ``out`` that cannot take the results, before any work; an empty temporary folder beside it."""
    import tempfile

    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder; give a folder (created if missing)")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUTS) if out.is_dir() else []
    if foreign and not force:
        raise ValueError(f"--out {out} holds {len(foreign)} file(s) this command did not write ({', '.join(foreign[:5])}"
                         f"{' ...' if len(foreign) > 5 else ''}); choose a new or empty folder, or pass --force "
                         "(those files are left alone, the results replaced)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
            raise PermissionError(13, "permission denied")
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as err:
        raise ValueError(f"--out {out}: cannot write there ({err.strerror or err})") from None


def _publish(tmp: Path, out: Path) -> None:
    """Move this run's files into ``out`` and delete the ones it did not write (stale from an earlier run)."""
    out.mkdir(exist_ok=True)
    for name in OUTPUTS:
        if (tmp / name).exists():
            os.replace(tmp / name, out / name)
        elif (out / name).is_file():
            (out / name).unlink()


def _maps(folder: Path, x, labels, k: int, texts, conf, terms, title: str, seed: int, true_names=None) -> str:
    """``map.png`` (each cluster's number and top terms at its centre) and ``map.html`` (plotly, self-contained:
    hover shows text, cluster and confidence; a legend click hides a cluster). Returns how the 2-D map was made."""
    import html
    import textwrap
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    import umap

    knn = (None, None, None)  # UMAP's own search (pynndescent)
    if 3 * MAP_NEIGHBOURS <= len(x) <= EXACT_KNN_UP_TO:  # exact neighbours in seconds, sparing pynndescent's
        from sklearn.neighbors import NearestNeighbors  # JIT compilation (~45 s in every new process)

        dist, idx = NearestNeighbors(n_neighbors=MAP_NEIGHBOURS, metric="cosine", algorithm="brute").fit(x).kneighbors(x)
        knn = (idx, dist, None)
    with warnings.catch_warnings():  # no search index: we never call transform
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        xy = umap.UMAP(n_components=2, n_neighbors=MAP_NEIGHBOURS, metric="cosine", n_epochs=MAP_EPOCHS,
                       random_state=seed, n_jobs=1, precomputed_knn=knn,
                       tqdm_kwds={"desc": "map (UMAP epochs)", "disable": len(texts) < 2000}).fit_transform(x)
    how = f"UMAP (cosine, {MAP_EPOCHS} epochs)"
    names = {j: f"{j}: {', '.join(terms[j][:3])}" for j in range(k)}
    at = {j: np.median(xy[labels == j], 0) for j in range(k) if (labels == j).any()}
    colours = [matplotlib.colors.to_hex(c) for c in plt.get_cmap("tab20").colors]  # the same in both maps
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.scatter(xy[:, 0], xy[:, 1], c=[colours[j % 20] for j in labels], s=3)
    for j, (cx, cy) in at.items():
        ax.annotate(names[j], (cx, cy), ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8, "lw": 0.5})
    ax.set_title(f"{title}; 2-D map: {how}", fontsize=10)
    ax.set_xticks([]), ax.set_yticks([])
    fig.savefig(folder / "map.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    figure = go.Figure()
    for j in at:
        m = np.flatnonzero(labels == j)
        hover = ["<br>".join(textwrap.wrap(html.escape(_short(texts[i])), 80, break_long_words=False))
                 + f"<br><b>cluster {j}</b> · confidence {conf[i]:.2f}"
                 + (f" · label {html.escape(str(true_names[i]))}" if true_names is not None else "") for i in m]
        figure.add_scatter(x=xy[m, 0], y=xy[m, 1], mode="markers", marker={"size": 4, "color": colours[j % 20]},
                           name=f"{names[j]} ({len(m)})",
                           legendgroup=str(j), hovertext=hover, hoverinfo="text")
        figure.add_scatter(x=[at[j][0]], y=[at[j][1]], mode="text", text=[f"<b>{j}</b>"], legendgroup=str(j),
                           showlegend=False, hoverinfo="skip")
    figure.update_layout(title=f"{title}; 2-D map: {how}", legend_title_text="cluster: top terms (click to hide)",
                         xaxis_visible=False, yaxis_visible=False, template="plotly_white",
                         height=max(750, 260 + 30 * len(at)))  # room for every legend entry
    figure.write_html(folder / "map.html", include_plotlyjs=True, full_html=True)  # no network needed to view it
    return how


def cluster_file(path, out_dir, k="auto", method: str = "kmeans", seed: int = 0, file_format: str = "auto",
                 text_col: str = "text", label_col: str | None = "label", model: str | None = None,
                 device=None, progress: bool = True, encoding: str = "utf-8", force: bool = False,
                 make_map: bool = True, runs: int = 1) -> dict:
    """Cluster the texts of ``path`` and write the results under ``out_dir``; returns a summary.

    The backend of ``python -m stc_utils cluster`` (its messages name the command-line flags).
    ``k``: a number, or ``"auto"`` (:func:`stc_utils.cluster.choose_k` over K = 2 ... min(40,
    n / 10), its recommended criterion; ``summary["k warning"]`` says when the corpus is smaller
    than :data:`stc_utils.cluster.BIC_MIN_TEXTS`, else None). ``method``: ``kmeans`` (MiniLM + K-means, 10 starts),
    ``cdp`` (lesson 03's starts) or ``dec`` (lesson 04's autoencoder + DEC, also saved as
    ``model.pt`` for :meth:`DECModel.predict`) or ``scan`` (lesson 08's SCAN heads on the MiniLM
    vectors, then their vote, :func:`stc_utils.scan.consensus`; an empty cluster is reported as empty)
    or ``scan_hybrid`` (the same on MiniLM beside TF-IDF + LSA, :func:`stc_utils.embed.hybrid`, lesson 08c)
    or ``hybrid_kmeans`` (K-means, 10 starts, on those joined vectors; K = auto is chosen on MiniLM's)
    or ``n2d`` (lesson 08d: a Gaussian mixture on UMAP's K-d map, :func:`stc_utils.cluster.n2d`)
    or ``n2d_ic`` (lesson 08e: K-means on that map, then :func:`stc_utils.cluster.iterative_classification`
    with TF-IDF and MiniLM) or ``n2d_hybrid_ic`` (the same rounds from K-means on the map of the
    joined vectors of ``hybrid_kmeans``; ``runs`` > 1 runs it from seeds ``seed`` .. ``seed + runs - 1``
    and keeps the runs' majority, :func:`stc_utils.scan.consensus` with ``how="majority"``, lesson
    08f; ``n2d_hybrid_ic_vote``, the runner's name for it, is ``n2d_hybrid_ic`` with ``runs=5`` from
    seed ``5 * seed``). Confidence: :func:`stc_utils.cluster.confidence` (for ``dec`` on the
    model's codes, for the ``n2d`` methods on the map). Labels in the file are used only for ``evaluation.json``.
    ``out_dir`` is checked first and refused when it holds other files (unless ``force``); the
    results are written to a temporary folder and moved into place, replacing every file of an
    earlier run (:data:`OUTPUTS`).
    """
    import shutil

    from tqdm.auto import tqdm

    from .autoencoder import SETTINGS, DECModel, embedding_info
    from .cluster import (IC_SETTINGS, RECOMMENDED, choose_k, confidence, iterative_classification, kmeans, n2d,
                          small_corpus_warning)
    from .data import load_text_file
    from .embed import embed_texts, hybrid, load_encoder, tfidf
    from .metrics import ari, evaluate

    if method not in CLUSTER_METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(CLUSTER_METHODS)}")
    if runs != 1 and (method != "n2d_hybrid_ic" or int(runs) < 1):
        raise ValueError(f"--runs {runs}: a vote of several runs is offered for --method n2d_hybrid_ic only "
                         "(measured there, lesson 08f), with --runs 1 or more"
                         + ("; n2d_hybrid_ic_vote is --method n2d_hybrid_ic --runs 5 --seed 5 x SEED"
                            if method == "n2d_hybrid_ic_vote" else ""))
    if method == "n2d_hybrid_ic_vote":  # the runner's method: seed s votes the runs of seeds 5s .. 5s+4
        method, seed, runs = "n2d_hybrid_ic", VOTE_RUNS * int(seed), VOTE_RUNS
    out, times, t = Path(out_dir), {}, [time.perf_counter()]
    tmp = _staging(out, force)
    names = ["embed", *(["choose K"] if k == "auto" else []), "cluster", "cards", *(["map"] if make_map else [])]
    steps = None

    def lap(name: str) -> None:  # a step done: its seconds, and the step bar moves on
        times[f"{name} s"], t[0] = time.perf_counter() - t[0], time.perf_counter()
        done = names.index(name) + 1
        steps.set_postfix_str(f"now: {names[done]}" if done < len(names) else "writing", refresh=False)
        steps.update()

    try:
        ds = load_text_file(path, format=file_format, text_col=text_col, label_col=label_col, encoding=encoding,
                            strict=True)
        n, distinct = len(ds), len(set(ds.texts))
        if distinct < 3 or (k != "auto" and not 2 <= int(k) <= distinct):
            fix = f"use --k 2 to {distinct}, or more different texts" if distinct >= 3 else "clustering needs at least 3"
            raise ValueError(f"{'' if k == 'auto' else f'--k {k}: '}{path} has {distinct} distinct text(s) "
                             f"({n} in all); {fix}")
        tok = load_encoder(model, device).tokenizer  # texts of < MAX_TOKENS - 2 characters fit the window
        long_texts = [s for s in ds.texts if len(s) > MAX_TOKENS - 2]
        truncated = sum(len(ids) > MAX_TOKENS for ids in tok(long_texts, verbose=False)["input_ids"]) if long_texts else 0
        steps = tqdm(names, desc="cluster: steps done", bar_format="{desc} {n_fmt}/{total_fmt}{postfix} [{elapsed}]",
                     disable=not progress, postfix="now: embed")  # which step runs; long ones have their own bar
        x = embed_texts(ds.texts, model=model, device=device, progress=progress, max_length=MAX_TOKENS)
        lap("embed")
        table, k_warning = None, None
        if k == "auto":
            top = min(40, max(3, distinct // 10), distinct - 1)
            k, table = choose_k(x, range(2, top + 1), seed=seed, criteria=[RECOMMENDED], progress=progress)
            k_warning = small_corpus_warning(len(x))
            lap("choose K")
        k, extra = int(k), {}
        if method == "dec":
            dec_model, result = DECModel.fit(x, k, seed=seed, embedding=embedding_info(model), progress=progress,
                                             steps=SETTINGS["max_steps"], update_interval=SETTINGS["update_interval"],
                                             lr=SETTINGS["dec_lr"], tol=SETTINGS["tol"])
            labels, space = result.labels, dec_model.transform(x)
            dec_model.save(tmp / "model.pt")
        elif method in ("scan", "scan_hybrid"):
            from .scan import fit_scan

            space = hybrid(x, ds.texts, seed=seed) if method == "scan_hybrid" else x
            fit = fit_scan(space, k, seed=seed, device=device, progress=progress)
            labels = fit.labels
            agree = [ari(labels, h) for h in fit.head_labels]  # label-free: how much the heads agree
            extra = {"scan labels": f"vote of {len(agree)} heads (their ARI with it {min(agree):.2f}-{max(agree):.2f})",
                     "scan stop": fit.stop_reason, "scan epochs": len(fit.history)}
        elif method in ("n2d", "n2d_ic", "n2d_hybrid_ic"):
            if method != "n2d":
                try:
                    words = tfidf(ds.texts)
                except ValueError as err:  # scikit-learn: no word is in two texts
                    raise ValueError(f"--method {method}: {path} has no word shared by two texts ({err}); "
                                     "use --method n2d") from None
            every = []
            for s in range(seed, seed + runs):  # runs > 1: the same method from seeds seed .. seed + runs - 1
                joined = hybrid(x, ds.texts, seed=s) if method == "n2d_hybrid_ic" else x
                labels, space, _ = n2d(joined, k, seed=s, mixture=method == "n2d")  # the confidence: on the map
                history = None
                if method != "n2d":
                    with tqdm(total=IC_SETTINGS["max_rounds"], disable=not progress,
                              desc=f"iterative classification{f' (run {s - seed + 1}/{runs})' if runs > 1 else ''}: "
                                   "rounds (stop under 0.5 % changed)") as bar:
                        labels, history = iterative_classification(
                            [words, x], kmeans(space, k, seed=s), x, seed=s,
                            on_round=lambda r, lab, changed: (bar.update(), bar.set_postfix_str(f"changed {changed:.2%}")))
                every.append((labels, space, history))
            if runs > 1:  # the runs' majority (lesson 08f); confidence and map on the run closest to it
                from .scan import consensus

                labels = consensus(np.stack([e[0] for e in every]), k, how="majority")
                agree = [ari(labels, e[0]) for e in every]
                _, space, history = every[int(np.argmax(agree))]
                settled = sum(_ic_stop(e[2]) == "tol" for e in every)
                extra = {"runs": f"{runs} runs (seeds {seed}-{seed + runs - 1}), their majority after matching each "
                                 f"run's clusters to the run that agrees most with the others; ARI of each run with "
                                 f"it {min(agree):.2f}-{max(agree):.2f}",
                         "ic stop": f"the labels settled in {settled} of {runs} runs"}
            if method != "n2d" and runs == 1:
                extra = {"ic rounds": len(history), "ic changed last round": round(history[-1], 4) if history else None,
                         "ic stop": "the labels settled" if _ic_stop(history) == "tol" else
                         f"after {len(history)} rounds the labels had not settled ({history[-1] if history else 1:.1%} "
                         "changed in the last one): the rounds are unstable here (few texts per cluster?); "
                         "compare with --method n2d"}
        else:
            space = hybrid(x, ds.texts, seed=seed) if method == "hybrid_kmeans" else x
            labels = kmeans(space, k, seed=seed, n_init=10, init="cdp" if method == "cdp" else "k-means++")
        conf = confidence(space, labels, seed=seed)
        lap("cluster")

        frame = pd.DataFrame({"text": ds.texts, "cluster": labels, "confidence": conf.round(4)})
        if ds.labels is not None:
            frame["label"] = [ds.class_names[i] for i in ds.labels]
        frame.to_csv(tmp / "assignments.csv", index=False)
        terms = class_tfidf_terms(ds.texts, labels)
        how_k = f"chosen by {RECOMMENDED} over K = 2..{table.index.max()}" if table is not None else "given"
        how = f"method {method}" + (f", the majority of {runs} runs" if runs > 1 else "")
        lines = [f"# {n} texts from `{path}`: K = {k} ({how_k}), {how}", ""]
        for j in np.argsort(-np.bincount(labels, minlength=k)):
            members = np.flatnonzero(labels == j)
            if not len(members):
                lines += [f"## cluster {j}: empty", ""]
                continue
            near = members[np.argsort(-(x[members] @ x[members].mean(0)))[:5]]
            lines += [f"## cluster {j}: {len(members)} texts ({len(members) / n:.1%})", "",
                      "top terms (class-based TF-IDF): " + (", ".join(terms[j]) or "-"), "",
                      *[f"- {_short(ds.texts[i])}" for i in near], ""]
        (tmp / "clusters.md").write_text("\n".join(lines), encoding="utf-8")
        lap("cards")
        if make_map:
            _maps(tmp, x, labels, k, ds.texts, conf, terms, f"{n} texts, {k} clusters ({how})", seed,
                  None if ds.labels is None else frame["label"].to_numpy())
            lap("map")
        summary = {"texts": n, "k": k, "method": method, "truncated": truncated, **extra,
                   **{key: round(v, 2) for key, v in times.items()}}
        if ds.labels is not None:
            scores = evaluate(ds.labels, labels)
            summary["evaluation"] = {"true k": ds.n_classes, **{m: round(scores[m], 4) for m in SCORES}}
            (tmp / "evaluation.json").write_text(json.dumps(summary["evaluation"], indent=2))
        _publish(tmp, out)
    finally:
        if steps is not None:
            steps.close()
        shutil.rmtree(tmp, ignore_errors=True)
    summary["k table"], summary["k warning"] = table, k_warning
    return summary

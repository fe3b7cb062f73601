import numpy as np
import pytest

from stc_utils.__main__ import main
from stc_utils.cluster import check_n_clusters, kmeans, kmeans_seeds, summary_row

from conftest import needs_data


def _blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [5, 5], [0, 5]])
    y = np.repeat(np.arange(3), 30)
    return centers[y] + rng.normal(0, 0.3, (90, 2)), y


def test_kmeans_over_seeds_on_separable_blobs():
    x, y = _blobs()
    runs = kmeans_seeds(x, y, seeds=[0, 1], n_init=2)
    assert list(runs["seed"]) == [0, 1] and (runs["acc"] == 1.0).all()
    assert summary_row(runs)["acc"] == "1.000 ± 0.000"


def test_same_seed_same_labels():
    x, _ = _blobs()
    assert np.array_equal(kmeans(x, 3, seed=4, n_init=1), kmeans(x, 3, seed=4, n_init=1))


def test_too_many_clusters_is_a_clear_error():
    x, _ = _blobs()
    with pytest.raises(ValueError, match="n_clusters=100 is larger than the number of texts \\(90\\)"):
        kmeans(x, 100)
    with pytest.raises(ValueError, match="positive integer"):
        check_n_clusters(0, 10)


def test_cli_unknown_dataset(capsys):
    assert main(["run", "--dataset", "agnews"]) == 2
    assert "known datasets" in capsys.readouterr().err


@needs_data
def test_cli_small_real_run(capsys):
    assert main(["run", "--dataset", "stackoverflow", "--n", "200", "--seeds", "2", "--n-init", "2"]) == 0
    out = capsys.readouterr().out
    assert "stackoverflow" in out and "±" in out and "embed s" in out


@needs_data
def test_cli_check_reports_model_and_every_file(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "[OK]   bundled all-MiniLM-L6-v2 (sha256 verified)" in out
    assert out.count("[OK]   ") >= 11 + 11  # modules + the 11 registered files
    assert "environment ready" in out


def test_cli_check_fails_clearly_without_data(tmp_path, monkeypatch, capsys):
    from stc_utils import data

    monkeypatch.setenv("STC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STC_OFFLINE", "1")
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "none")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] stackoverflow/title_StackOverflow.txt" in out and "check(s) failed" in out


# --------------------------------------------------------------------------- cluster FILE: outputs and bad inputs

import html as _html
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from stc_utils import runner
from stc_utils.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STC_FAST": "1"}
    return subprocess.run([sys.executable, "-m", "stc_utils", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _refused(proc, *phrases):
    """Exit 2, one line on stderr, every phrase in it, no traceback."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, (phrase, proc.stderr)


def _labelled_file(path, n=120, seed=0):
    ds = load_dataset("searchsnippets", n=n, seed=seed)
    path.write_text("".join(f"{ds.class_names[y]}\t{t}\n" for t, y in zip(ds.texts, ds.labels)), encoding="utf-8")
    return ds


def _no_embeddings():
    cache = Path(os.environ["STC_CACHE_DIR"]) / "embeddings"
    return not cache.is_dir() or not any(cache.iterdir())


@needs_data
def test_cluster_owns_its_folder_replaces_stale_results_and_refuses_foreign_files(tmp_path):
    _labelled_file(tmp_path / "mine.tsv")
    out = tmp_path / "out"
    assert _cli("cluster", str(tmp_path / "mine.tsv"), "--k", "4", "--out", str(out)).returncode == 0
    assert {p.name for p in out.iterdir()} == {"assignments.csv", "clusters.md", "map.png", "map.html", "evaluation.json"}
    # the same folder, unlabelled K = 3 without a map: nothing of the labelled K = 4 run is left
    proc = _cli("cluster", str(tmp_path / "mine.tsv"), "--k", "3", "--no-labels", "--no-map", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == {"assignments.csv", "clusters.md"}
    frame = pd.read_csv(out / "assignments.csv")
    assert sorted(frame["cluster"].unique()) == [0, 1, 2] and "label" not in frame
    before = (out / "assignments.csv").read_bytes()
    # a failed run (a mixed file is refused after the folder was checked) leaves the results whole, no temp folder
    (tmp_path / "mixed.txt").write_text("4\tone\ntwo\nthree\n", encoding="utf-8")
    _refused(_cli("cluster", str(tmp_path / "mixed.txt"), "--out", str(out)), "--format")
    assert (out / "assignments.csv").read_bytes() == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # its temporary folder is gone
    # a folder with someone else's files: refused unless --force, which leaves them alone
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    _refused(_cli("cluster", str(tmp_path / "mine.tsv"), "--k", "3", "--out", str(out)), "notes.txt", "--force")
    assert (out / "assignments.csv").read_bytes() == before
    proc = _cli("cluster", str(tmp_path / "mine.tsv"), "--k", "2", "--no-map", "--force", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine" and (out / "evaluation.json").is_file()
    assert pd.read_csv(out / "assignments.csv")["cluster"].nunique() == 2


def test_out_is_checked_before_any_work(tmp_path):
    texts = tmp_path / "t.txt"
    texts.write_text("".join(f"text number {i}\n" for i in range(20)), encoding="utf-8")
    a_file = tmp_path / "taken"
    a_file.write_text("x", encoding="utf-8")
    _refused(_cli("cluster", str(texts), "--out", str(a_file)), "--out", "is a file")
    _refused(_cli("cluster", str(texts), "--out", str(a_file / "sub")), "--out", "cannot write there")
    if os.geteuid() == 0:  # root may write anywhere on disk; /proc refuses even root
        unwritable = Path("/proc/stc_no_such_folder/out")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        unwritable = locked / "out"
    _refused(_cli("cluster", str(texts), "--out", str(unwritable)), "cannot write there")
    assert _no_embeddings()  # refused before the texts were embedded


def test_mixed_file_is_refused_with_both_kinds_of_lines_and_the_formats_that_read_it(tmp_path):
    p = tmp_path / "mixed.txt"
    p.write_text("4\tfirst labelled\nplain one\nplain two\n2\tsecond labelled\nplain three\n", encoding="utf-8")
    proc = _cli("cluster", str(p), "--out", str(tmp_path / "o"))
    _refused(proc, "2 of 5 lines have a TAB", "line(s) 1, 4", "line(s) 2, 3, 5", "--format text", "--format label-text")
    assert "format='" not in proc.stderr and not (tmp_path / "o").exists() and _no_embeddings()


def test_fewer_distinct_texts_than_k_names_both_numbers(tmp_path):
    same = tmp_path / "same.txt"
    same.write_text("the very same line\n" * 50, encoding="utf-8")
    _refused(_cli("cluster", str(same), "--k", "3", "--out", str(tmp_path / "o")), "--k 3", "1 distinct text", "50 in all")
    five = tmp_path / "five.txt"
    five.write_text("".join(f"topic {i} again\n" for i in range(5)) * 10, encoding="utf-8")
    _refused(_cli("cluster", str(five), "--k", "8", "--out", str(tmp_path / "o")), "--k 8", "5 distinct", "--k 2 to 5")
    assert not (tmp_path / "o").exists()


def test_flags_not_parameters_in_messages(tmp_path):
    texts = tmp_path / "t.txt"
    texts.write_text("a b\nc d\ne f\n", encoding="utf-8")
    for args, flag in [(["cluster", str(texts), "--k", "1"], "--k"), (["cluster", str(texts), "--seed", "-1"], "--seed"),
                       (["cluster", str(texts), "--encoding", "utf-9"], "--encoding"),
                       (["bench", "--seeds", "0"], "--seeds"), (["run", "--k-max", "2"], "--k-max")]:
        proc = _cli(*args, "--out", str(tmp_path / "o")) if args[0] == "cluster" else _cli(*args)
        assert proc.returncode == 2 and f"argument {flag}:" in proc.stderr and "Traceback" not in proc.stderr, args
    proc = _cli("bench", "--datasets", "searchsnippets", "--methods", "tfidf_kmeans", "--label-fraction", "2",
                "--out", str(tmp_path / "b.csv"))
    _refused(proc, "--label-fraction")


@needs_data
def test_run_names_k_when_it_exceeds_the_texts():
    proc = _cli("run", "--dataset", "searchsnippets", "--n", "20", "--k", "30", "--seeds", "1")
    _refused(proc, "--k 30", "20 texts")
    assert "n_clusters" not in proc.stderr


@needs_data
def test_non_utf8_names_the_line_and_how_to_convert_and_long_texts_are_counted(tmp_path):
    ds = load_dataset("searchsnippets", n=40, seed=1)
    long_texts = [" ".join(ds.texts[i:i + 20]) for i in range(0, 40, 20)]  # ~ 400 words: past 128 tokens
    texts = ["Café de Flore, Paris"] + ds.texts[:30] + long_texts
    p = tmp_path / "cp1252.txt"
    p.write_bytes("\n".join(ds.texts[:2] + texts).encode("cp1252", errors="replace") + b"\n")
    _refused(_cli("cluster", str(p), "--out", str(tmp_path / "o")), "line 3", "iconv", "--encoding")
    proc = _cli("cluster", str(p), "--encoding", "cp1252", "--k", "3", "--no-map", "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert "truncated: 2" in proc.stdout and "2 of 35 texts are longer than the model's 128-token window" in proc.stderr
    frame = pd.read_csv(tmp_path / "o" / "assignments.csv")
    assert "Café de Flore, Paris" in set(frame["text"])
    cards = (tmp_path / "o" / "clusters.md").read_text(encoding="utf-8")
    assert max(len(line) for line in cards.splitlines()) < 360  # long texts are shortened
    assert all(t not in cards for t in long_texts)
    assert runner._short("word " * 1000).endswith("… (5,000 characters)") and len(runner._short("word " * 1000)) < 330


def _bench_csv(tmp_path):
    out = tmp_path / "bench.csv"
    runner.bench(["searchsnippets"], ["tfidf_kmeans"], 2, out, n=200, fast=True, progress=False)
    return out


@needs_data
def test_bench_refuses_a_foreign_or_cut_csv_and_leaves_it_untouched(tmp_path):
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("name,score\nalice,3\n", encoding="utf-8")
    whole = _bench_csv(tmp_path).read_bytes()
    last = whole.rstrip(b"\n").rindex(b"\n") + 1
    cut, cut_in_quotes = tmp_path / "cut.csv", tmp_path / "cut2.csv"
    cut.write_bytes(whole[: last + 60])  # the last row cut among its scores
    cut_in_quotes.write_bytes(whole[:-20])  # ... inside its quoted settings
    for path, phrase in [(foreign, "has no column(s) dataset, method, seed"), (cut, "incomplete row(s) at line(s) 3"),
                         (cut_in_quotes, "cannot be read as a CSV")]:
        before = path.read_bytes()
        proc = _cli("bench", "--datasets", "searchsnippets", "--methods", "tfidf_kmeans", "--seeds", "2", "--n", "200",
                    "--fast", "--out", str(path))
        _refused(proc, f"--out {path}", phrase, "left as it is")
        assert path.read_bytes() == before
    assert len(runner.read_rows(ROOT / "results" / "bench.csv")) >= 120  # the real results still read


def test_class_tfidf_terms_ignore_html_entities_and_tags():
    texts = ["Stocks &gt; 5 &quot;up&quot; at &lt;b&gt;Nasdaq&lt;/b&gt;", "Nasdaq stocks rally &amp; gains",
             "Storm &quot;hits&quot; coast &gt; 100 km", "storm coast flooding <i>warning</i>"]
    terms = runner.class_tfidf_terms(texts, [0, 0, 1, 1])
    words = set(terms[0]) | set(terms[1])
    assert not words & {"gt", "lt", "quot", "amp", "b", "i"} and {"nasdaq", "storm"} <= words


def test_help_describes_method_format_seed_and_lists_names():
    text = _cli("cluster", "--help").stdout
    for phrase in ["--method", "K-means, 10 starts", "density", "autoencoder + DEC", "--format",
                   "label<TAB>text", "one text a line", "--seed", "same clusters", "--no-map", "--force"]:
        assert phrase in " ".join(text.split()), phrase
    text = _cli("bench", "--help").stdout
    assert all(name in text for name in ["stackoverflow", "searchsnippets", "biomedical", "thucnews", *runner.METHODS])


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.sources, self._in = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._in = True
            self.scripts.append("")
            self.sources += [v for k, v in attrs if k == "src"]

    def handle_endtag(self, tag):
        self._in = self._in and tag != "script"

    def handle_data(self, data):
        if self._in:
            self.scripts[-1] += data


def plotly_traces(path: Path) -> list[dict]:
    """The traces in a plotly HTML file; asserts that it loads no script from elsewhere."""
    parser = _Scripts()
    parser.feed(path.read_text(encoding="utf-8"))
    assert not parser.sources, parser.sources  # self-contained: nothing fetched at view time
    assert any("plotly.js v" in s or "Plotly" in s[:2000] for s in parser.scripts)  # the library inlined
    call = next(s for s in parser.scripts if "Plotly.newPlot(" in s)
    start = call.index("[", call.index("Plotly.newPlot("))
    return json.JSONDecoder().raw_decode(call[start:])[0]


@needs_data
def test_confidence_ranks_texts_and_the_maps_label_clusters(tmp_path):
    """The most confident decile lies at its clusters' centres and is right more often than the least confident."""
    from scipy.optimize import linear_sum_assignment

    from stc_utils.embed import embed_texts

    ds = _labelled_file(tmp_path / "mine.tsv", n=600, seed=2)
    proc = _cli("cluster", str(tmp_path / "mine.tsv"), "--k", "8", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(tmp_path / "out" / "assignments.csv")
    conf, labels = frame["confidence"].to_numpy(), frame["cluster"].to_numpy()
    assert conf.min() >= 0 and conf.max() <= 1 and np.percentile(conf, 90) - np.percentile(conf, 10) > 0.15
    x = embed_texts(frame["text"].tolist(), progress=False)
    centres = np.stack([x[labels == j].mean(0) for j in range(8)])
    closeness = np.empty(len(x))  # within its cluster, the share of texts farther from the centre
    for j in range(8):
        m = np.flatnonzero(labels == j)
        closeness[m] = np.argsort(np.argsort(x[m] @ centres[j])) / max(len(m) - 1, 1)
    order = np.argsort(-conf, kind="stable")
    top, bottom = order[: len(x) // 10], order[-(len(x) // 10):]
    assert closeness[top].mean() > 0.75 > 0.35 > closeness[bottom].mean()
    cm = np.zeros((8, ds.n_classes))
    np.add.at(cm, (labels, ds.labels), 1)
    rows, cols = linear_sum_assignment(-cm)
    right = dict(zip(rows, cols))
    correct = np.array([right.get(c, -1) for c in labels]) == ds.labels
    assert correct[top].mean() > correct[bottom].mean() + 0.2
    cards = (tmp_path / "out" / "clusters.md").read_text(encoding="utf-8")  # the texts shown at each centre
    shown = [line[2:] for line in cards.splitlines() if line.startswith("- ")]
    assert np.mean([np.mean(conf <= conf[frame["text"].tolist().index(t)]) for t in shown]) > 0.7
    traces = plotly_traces(tmp_path / "out" / "map.html")
    points = [t for t in traces if t["mode"] == "markers"]
    assert len(points) == 8 and sum(len(t["hovertext"]) for t in points) == len(frame)
    assert all(t["name"].startswith(f"{t['legendgroup']}: ") for t in points)
    hover = points[0]["hovertext"][0]
    assert "confidence" in hover and "cluster" in hover and "label" in hover
    assert _html.unescape(hover.split("<br>")[0]) in " ".join(frame["text"])
    assert (tmp_path / "out" / "map.png").stat().st_size > 10000


def test_confidence_is_a_probability_even_with_an_empty_cluster():
    from stc_utils.cluster import confidence

    x, y = _blobs()
    q = confidence(x, np.where(y == 1, 3, y))  # clusters 0, 2, 3: DEC can leave one (here 1) empty
    assert q.shape == (90,) and np.isfinite(q).all() and (q >= 1 / 3).all() and (q <= 1).all()
    assert np.array_equal(q, confidence(x, np.where(y == 1, 3, y)))  # seeded


@needs_data
def test_k_auto_warns_on_a_small_corpus_and_not_with_a_given_k(tmp_path):
    from stc_utils.cluster import small_corpus_warning

    _labelled_file(tmp_path / "mine.tsv", n=120)
    proc = _cli("cluster", str(tmp_path / "mine.tsv"), "--no-map", "--out", str(tmp_path / "auto"))
    assert proc.returncode == 0, proc.stderr
    assert small_corpus_warning(120) in proc.stderr and "chosen K" in proc.stdout
    proc = _cli("cluster", str(tmp_path / "mine.tsv"), "--k", "4", "--no-map", "--out", str(tmp_path / "given"))
    assert proc.returncode == 0 and "warning: BIC" not in proc.stderr

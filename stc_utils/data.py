"""Datasets: a checksummed registry of the short-text clustering benchmarks and a generic loader.

Taught in lesson 00 (quick tour) and used by every lesson.

Where a file is looked for, in order:

1. ``$STC_DATA_DIR/<dataset>/<file>`` (CI and the course machines point this at an offline copy),
2. the repository's ``data/<dataset>/<file>``,
3. a download from the public URL into ``data/<dataset>/`` (pooch: timeout, progress bar),
   unless ``STC_OFFLINE=1``.

Every file, wherever it was found, is checked against its sha256 before it is read.
Labels are returned as 0-based ints together with the class names.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import env_flag

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DATA_ENV = "STC_DATA_DIR"
DOWNLOAD_TIMEOUT_S = 60


class DataError(Exception):
    """Base class of every data problem this module reports."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A dataset file is neither on disk nor downloadable."""


class ChecksumError(DataError):
    """A file's sha256 does not match the registry."""


class DataFormatError(DataError, ValueError):
    """A file could not be parsed: wrong encoding, wrong columns, counts that do not add up."""


class EmptyTextError(DataFormatError):
    """Empty or whitespace-only texts were found where they are refused."""


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it comes from, its checksum and its encoding."""

    filename: str
    url: str
    sha256: str
    encoding: str = "utf-8-sig"  # utf-8-sig also reads plain UTF-8 and drops a BOM


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    texts: RemoteFile
    labels: RemoteFile | None
    n_texts: int
    class_names: tuple[str, ...]
    label_base: int  # the first label value in the file (1 for the STC^2 sets, 0 for THUCNews)
    layout: str = "separate"  # "separate": text file + label file; "text-tab-label": one file
    classes: RemoteFile | None = None  # a file listing the class names, one a line
    word2vec: str | None = None  # key into WORD2VEC
    balanced: bool = True  # all classes the same size

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def files(self) -> list[RemoteFile]:
        return [f for f in (self.texts, self.labels, self.classes) if f is not None]


_GH = "https://raw.githubusercontent.com"
_JACOXU = f"{_GH}/jacoxu/StackOverflow/master/rawText"
_GOAMEGAH = f"{_GH}/goamegah/Short-Text-Clustering/main/datasets"
_THUC = f"{_GH}/649453932/Chinese-Text-Classification-Pytorch/master/THUCNews/data"

DATASETS: dict[str, DatasetInfo] = {
    "stackoverflow": DatasetInfo(  # 20,000 question titles, 20 tags (Xu et al. 2017)
        name="stackoverflow", n_texts=20000, label_base=1, word2vec="stackoverflow",
        texts=RemoteFile("title_StackOverflow.txt", f"{_JACOXU}/title_StackOverflow.txt",
                         "56fdb3932c6a2e35c1943b8a3d3c1cf51901fc1139e51b1587091898ffb22e86"),
        labels=RemoteFile("label_StackOverflow.txt", f"{_JACOXU}/label_StackOverflow.txt",
                          "ac6b52afbf696611680f8ea944be682bcdf1979b62fde2b5fa2a9dcc6ab8d7d3"),
        class_names=("wordpress", "oracle", "svn", "apache", "excel", "matlab", "visual-studio",
                     "cocoa", "osx", "bash", "spring", "hibernate", "scala", "sharepoint", "ajax",
                     "qt", "drupal", "linq", "haskell", "magento"),
    ),
    "searchsnippets": DatasetInfo(  # 12,340 web search snippets, 8 domains (Phan et al. 2008)
        name="searchsnippets", n_texts=12340, label_base=1, word2vec="searchsnippets", balanced=False,
        texts=RemoteFile("SearchSnippets.txt", f"{_GOAMEGAH}/SearchSnippets/SearchSnippets.txt",
                         "611608df8e343df204acf5826e70fd3e590482d352b2c81bf2a6d37621677603"),
        labels=RemoteFile("SearchSnippets_gnd.txt", f"{_GOAMEGAH}/SearchSnippets/SearchSnippets_gnd.txt",
                          "03c0c750b699c29fb2c13cfbf62fa5e96a05694da9d5a9bd7fc4367cdd9735c6"),
        class_names=("business", "computers", "culture-arts-entertainment", "education-science",
                     "engineering", "health", "politics-society", "sports"),
    ),
    "biomedical": DatasetInfo(  # 20,000 PubMed paper titles, 20 MeSH topics (BioASQ, Xu et al. 2017)
        name="biomedical", n_texts=20000, label_base=1, word2vec="biomedical",
        texts=RemoteFile("Biomedical.txt", f"{_GOAMEGAH}/Biomedical/Biomedical.txt",
                         "5824b74b2064a6b2940b15ab30bab8abe1bd42aa1ec4089e62a0ba28efa2ba87"),
        labels=RemoteFile("Biomedical_gnd.txt", f"{_GOAMEGAH}/Biomedical/Biomedical_gnd.txt",
                          "0b354f1c49240b1f048a453f630809a9ab4372b727ec21940ab23f95faa25420",
                          encoding="utf-16"),  # UTF-16 LE with a BOM and CRLF line ends
        class_names=("aging", "cats", "chemistry", "erythrocytes", "glucose", "insulin", "lung",
                     "lymphocytes", "mathematics", "mutation", "myocardium", "norepinephrine",
                     "potassium", "prognosis", "risk", "skin", "sodium", "spleen", "swine",
                     "temperature"),
    ),
    "thucnews": DatasetInfo(  # 10,000 Chinese news titles, 10 categories (THUCNews subset)
        name="thucnews", n_texts=10000, label_base=0, layout="text-tab-label",
        texts=RemoteFile("test.txt", f"{_THUC}/test.txt",
                         "ebecc8c896635ad69730083ca7b81d37c42c9a5779bc05c9d2479d894e34f026"),
        labels=None,
        classes=RemoteFile("class.txt", f"{_THUC}/class.txt",
                           "005e8813ad639c219e5902dc84889202b4a717b4238497d26c3fbd5e43927a86"),
        class_names=("finance", "realty", "stocks", "education", "science", "society", "politics",
                     "sports", "game", "entertainment"),
    ),
}

# The 48-d word vectors that STC^2 (Xu et al. 2017) trained on in-domain corpora.
WORD2VEC: dict[str, RemoteFile] = {
    "stackoverflow": RemoteFile("w2v_sof_d48.txt", f"{_GOAMEGAH}/stackoverflow/word2vec/w2v_sof_d48.txt",
                                "352bda7977ed76d8be24cba5f9b45c7e30e2b97598864e65663c91e786ee4d2b"),
    "searchsnippets": RemoteFile("w2v_sst_d48.txt", f"{_GOAMEGAH}/SearchSnippets/word2vec/w2v_sst_d48.txt",
                                 "5f357c3be689b88d5047c876e1e11b39bd9131ee21a8553770ae9c1ccc32de92"),
    "biomedical": RemoteFile("w2v_bio_d48.txt", f"{_GOAMEGAH}/Biomedical/word2vec/w2v_bio_d48.txt",
                             "54341e4cc43ac56286af10ccfd4977a9fdcbb06207cf7611c60196ed5e1bd7c7"),
}


def available_datasets() -> list[str]:
    return sorted(DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    key = name.strip().lower()
    if key not in DATASETS:
        raise KeyError(
            f"unknown dataset {name!r}; known datasets: {', '.join(available_datasets())}. "
            "For your own file use stc_utils.data.load_text_file(path).")
    return DATASETS[key]


# --------------------------------------------------------------------------- files


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


def verify_file(path: str | Path, expected_sha256: str) -> Path:
    """Raise :class:`ChecksumError` unless ``path`` hashes to ``expected_sha256``."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    actual = _VERIFIED.get(key) or sha256_of(path)
    if actual != expected_sha256:
        raise ChecksumError(
            f"checksum mismatch for {path}: expected sha256 {expected_sha256}, got {actual}. "
            "The file is corrupted or a different version: delete it to download it again, "
            f"or fix the copy that ${DATA_ENV} points to.")
    _VERIFIED[key] = actual
    return path


def data_dirs() -> list[Path]:
    """The folders searched, in order: ``$STC_DATA_DIR`` (if set), then the repo's ``data/``."""
    dirs = []
    env = os.environ.get(DATA_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(DEFAULT_DATA_DIR)
    return dirs


def fetch_file(folder: str, remote: RemoteFile, download: bool | None = None) -> Path:
    """Return a verified local path for ``remote`` (stored under ``<data dir>/<folder>/``).

    Looks in ``$STC_DATA_DIR`` then ``data/``; downloads into ``data/`` otherwise (unless
    ``download=False`` or ``STC_OFFLINE=1``). Raises :class:`DataNotFoundError` naming the
    variable to set and the URL, or :class:`ChecksumError`.
    """
    env = os.environ.get(DATA_ENV)
    if env and not Path(env).expanduser().is_dir():
        raise DataNotFoundError(
            f"${DATA_ENV} is set to {env!r}, which is not a folder. Point it at a folder "
            f"holding <dataset>/<file> copies (e.g. ../shared/datasets) or unset it.")
    for base in data_dirs():
        candidate = base / folder / remote.filename
        if candidate.is_file():
            return verify_file(candidate, remote.sha256)

    if download is None:
        download = not env_flag("STC_OFFLINE")
    target_dir = DEFAULT_DATA_DIR / folder
    if not download:
        raise DataNotFoundError(
            f"{folder}/{remote.filename} was not found in {', '.join(map(str, data_dirs()))} "
            f"and downloads are off (STC_OFFLINE=1 or download=False). Set ${DATA_ENV} to a folder holding "
            f"{folder}/{remote.filename}, or download it from {remote.url} into {target_dir}/.")
    import pooch

    target_dir.mkdir(parents=True, exist_ok=True)
    try:
        path = pooch.retrieve(url=remote.url, known_hash=f"sha256:{remote.sha256}", fname=remote.filename,
                              path=target_dir,
                              downloader=pooch.HTTPDownloader(progressbar=True, timeout=DOWNLOAD_TIMEOUT_S))
    except ValueError as err:  # pooch's hash mismatch
        raise ChecksumError(f"the download of {remote.url} does not match sha256 {remote.sha256}: {err}") from err
    except Exception as err:  # network errors: offline, timeout, HTTP 404 ...
        raise DataNotFoundError(
            f"{folder}/{remote.filename} is not on disk and could not be downloaded from "
            f"{remote.url} ({type(err).__name__}: {err}). Offline? Set ${DATA_ENV} to a "
            f"folder holding {folder}/{remote.filename}, or put the file in {target_dir}/.") from err
    return Path(path)


def read_lines(path: str | Path, encoding: str = "utf-8-sig") -> list[str]:
    """Read a text file strictly in ``encoding``; one entry per line, CR/LF stripped.

    Only ``\\n`` splits lines (``str.splitlines`` would also split on rare Unicode
    separators inside a text). A final empty line (the trailing newline) is dropped.
    """
    raw = Path(path).read_bytes()
    requested = encoding
    if encoding.lower().replace("_", "-") in {"utf-8", "utf8"}:
        encoding = "utf-8-sig"  # same decoding, and a leading BOM is dropped
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        hint = (" It starts with a UTF-16 byte-order mark: name" if raw[:2] in (b"\xff\xfe", b"\xfe\xff")
                else f" Convert it (iconv -f cp1252 -t utf-8 {path} > fixed.txt, with its real encoding) or name")
        raise DataFormatError(f"{path} is not valid {requested}: line {line}: {err.reason} at byte {err.start}.{hint}"
                              " its encoding (--encoding utf-16 / cp1252 / ... on the command line, encoding= in "
                              "Python).") from err
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# --------------------------------------------------------------------------- dataset object


@dataclass
class TextDataset:
    """Texts, optional 0-based integer labels and the class names."""

    name: str
    texts: list[str]
    labels: np.ndarray | None = None
    class_names: list[str] | None = None
    source: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64)
            if len(self.labels) != len(self.texts):
                raise DataFormatError(f"{self.name}: {len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        k = "unlabelled" if self.labels is None else f"{self.n_classes} classes"
        return f"TextDataset({self.name!r}, {len(self)} texts, {k})"

    @property
    def n_classes(self) -> int:
        if self.labels is None:
            raise ValueError(f"{self.name} has no labels, so no number of classes")
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.labels.max()) + 1

    def class_counts(self) -> dict[str, int]:
        if self.labels is None:
            return {}
        counts = np.bincount(self.labels, minlength=self.n_classes)
        names = self.class_names or [str(i) for i in range(len(counts))]
        return dict(zip(names, counts.tolist()))

    def subsample(self, n: int | None, seed: int = 0) -> "TextDataset":
        """A stratified random subsample of ``n`` texts (all when ``n`` is None or >= len).

        The original order is kept. Unlabelled data is sampled uniformly.
        """
        if n is None or n >= len(self):
            return self
        if n <= 0:
            raise ValueError(f"subsample size must be positive, got n={n}")
        idx = np.arange(len(self))
        if self.labels is None:
            chosen = np.random.default_rng(seed).choice(idx, size=n, replace=False)
        else:
            from sklearn.model_selection import train_test_split

            present = len(np.unique(self.labels))
            if n < present:
                raise ValueError(
                    f"a stratified subsample needs at least one text per class: "
                    f"n={n} < {present} classes")
            chosen, _ = train_test_split(idx, train_size=n, stratify=self.labels, random_state=seed)
        chosen = np.sort(chosen)
        return TextDataset(self.name, [self.texts[i] for i in chosen],
                           None if self.labels is None else self.labels[chosen], self.class_names,
                           source={**self.source, "subsample": {"n": n, "seed": seed}})


def _handle_empty(texts, labels, on_empty: str, name: str):
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if not empty:
        return texts, labels
    lines = ", ".join(str(i + 1) for i in empty[:10]) + (" ..." if len(empty) > 10 else "")
    if on_empty == "error":
        raise EmptyTextError(
            f"{name}: {len(empty)} empty or whitespace-only text(s) at line(s) {lines}. "
            "Remove them, or pass on_empty='drop' to drop them (and their labels).")
    if on_empty != "drop":
        raise ValueError(f"on_empty must be 'error' or 'drop', got {on_empty!r}")
    warnings.warn(f"{name}: dropped {len(empty)} empty text(s) at line(s) {lines}")
    keep = np.setdiff1d(np.arange(len(texts)), empty)
    texts = [texts[i] for i in keep]
    if labels is not None:
        labels = [labels[i] for i in keep]
    return texts, labels


def load_dataset(name: str, n: int | None = None, seed: int = 0, download: bool | None = None) -> TextDataset:
    """Load a registered benchmark, verified, with 0-based labels and class names.

    ``n`` draws a stratified subsample (for fast runs); ``seed`` fixes it.
    """
    info = dataset_info(name)
    text_path = fetch_file(info.name, info.texts, download)
    lines = read_lines(text_path, info.texts.encoding)
    if info.layout == "text-tab-label":
        texts, raw_labels = [], []
        for lineno, line in enumerate(lines, 1):
            text, sep, label = line.rpartition("\t")
            if not sep:
                raise DataFormatError(f"{text_path}:{lineno}: expected 'text<TAB>label'")
            texts.append(text)
            raw_labels.append(label)
        if info.classes is not None:
            names = [c.strip() for c in read_lines(fetch_file(info.name, info.classes, download))]
            if tuple(names) != info.class_names:
                raise DataFormatError(f"{info.name}: class file lists {names}")
    else:
        texts = lines
        label_path = fetch_file(info.name, info.labels, download)
        raw_labels = [x.strip() for x in read_lines(label_path, info.labels.encoding)]
        if len(raw_labels) != len(texts):
            raise DataFormatError(
                f"{info.name}: {len(texts)} texts in {text_path.name} but {len(raw_labels)} "
                f"labels in {label_path.name}; the two files must have one line per text")
    try:
        labels = np.array([int(x) for x in raw_labels], dtype=np.int64) - info.label_base
    except ValueError as err:
        raise DataFormatError(f"{info.name}: a label is not an integer ({err})") from err
    if len(texts) != info.n_texts:
        raise DataFormatError(f"{info.name}: expected {info.n_texts} texts, found {len(texts)}")
    if labels.min() < 0 or labels.max() >= info.n_classes:
        raise DataFormatError(
            f"{info.name}: labels must lie in {info.label_base}..{info.label_base + info.n_classes - 1}")
    counts = np.bincount(labels, minlength=info.n_classes)
    if (counts == 0).any() or (info.balanced and len(set(counts.tolist())) != 1):
        raise DataFormatError(f"{info.name}: unexpected class counts {counts.tolist()}")
    texts, _ = _handle_empty(texts, None, "error", info.name)
    ds = TextDataset(info.name, texts, labels, list(info.class_names), source={"files": [str(text_path)]})
    return ds.subsample(n, seed)


def word2vec_path(name: str, download: bool | None = None) -> Path:
    """Path of the 48-d word2vec text file shipped with a benchmark (sha256 verified).

    Described by its source as STC^2's vectors; by their vocabulary (the benchmark's tokens seen at
    least 5 times, plus an untrained ``</s>``) they are word2vec trained on the benchmark's own texts
    (benchmarks/self_train_ablation.py measures it; lessons 02 and 04 call them "STC²" after the source).
    """
    key = dataset_info(name).name
    if key not in WORD2VEC:
        raise KeyError(f"no pretrained word vectors for {name!r}; available: {sorted(WORD2VEC)}")
    return fetch_file("word2vec", WORD2VEC[key], download)


def load_word2vec(name: str, download: bool | None = None):
    """The STC^2 48-d word vectors of a benchmark as gensim ``KeyedVectors``."""
    from gensim.models import KeyedVectors

    return KeyedVectors.load_word2vec_format(str(word2vec_path(name, download)), binary=False)


# --------------------------------------------------------------------------- user files


def _get_path(record, path: str):
    """Follow a dotted path such as ``event_list.0.class`` through dicts and lists."""
    value = record
    for part in path.split("."):
        if isinstance(value, list):
            try:
                value = value[int(part)]
            except (ValueError, IndexError) as err:
                raise KeyError(path) from err
        elif isinstance(value, dict):
            if part not in value:
                raise KeyError(path)
            value = value[part]
        else:
            raise KeyError(path)
    return value


def encode_labels(raw: Sequence) -> tuple[np.ndarray, list[str]]:
    """Map raw labels (strings or numbers) to 0-based ints; numeric labels sort numerically."""
    uniq = sorted({str(x) for x in raw})
    try:
        uniq = sorted(uniq, key=float)
    except ValueError:
        pass
    index = {u: i for i, u in enumerate(uniq)}
    return np.array([index[str(x)] for x in raw], dtype=np.int64), uniq


def _line_list(numbers: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in numbers[:limit])
    return shown + (f" ... ({len(numbers)} in all)" if len(numbers) > limit else "")


def _guess_tab_format(path: Path, lines: Sequence[str], strict: bool = False) -> str:
    """``format="auto"`` for a plain file: ``"label-text"``, ``"text"``, or refuse a mixed file.

    ``strict`` (the command line): refuse any mix, naming the ``--format`` values that read it.
    """
    with_tab = [i for i, line in enumerate(lines, 1) if "\t" in line]
    if not lines or not with_tab:
        return "text"
    if len(with_tab) == len(lines):
        return "label-text"
    fmt = "--format {}".format if strict else "format='{}'".format
    missing = [i for i, line in enumerate(lines, 1) if "\t" not in line]
    if strict or 2 * len(with_tab) > len(lines):
        raise DataFormatError(
            f"{path}: {len(with_tab)} of {len(lines)} lines have a TAB (label<TAB>text?), at line(s) "
            f"{_line_list(with_tab)}, but {len(missing)} do not, at line(s) {_line_list(missing)}. Fix those "
            f"lines, or pass {fmt('label-text')} / {fmt('text-label')} (which stops at the first bad line) or "
            f"{fmt('text')} (every line is a text, labels included).")
    warnings.warn(
        f"{path}: format='auto' chose 'text' (one text a line, no labels): only "
        f"{len(with_tab)} of {len(lines)} lines have a TAB, at line(s) {_line_list(with_tab)}. "
        "Pass format='text' to silence this, or fix the file if it is meant to be labelled.")
    return "text"


def load_text_file(path: str | Path, format: str = "auto", text_col: str = "text", label_col: str | None = "label",
                   encoding: str = "utf-8", on_empty: str = "error", name: str | None = None,
                   strict: bool = False) -> TextDataset:
    """Load your own short texts.

    ``format``:

    - ``"label-text"``: ``label<TAB>text`` lines (AgNews, GoogleNews-TS/T/S, Tweet);
    - ``"text-label"``: ``text<TAB>label`` lines (THUCNews style);
    - ``"text"``: one text a line, no labels (unsupervised use);
    - ``"csv"``: a CSV with a header; ``text_col`` and ``label_col`` name the columns;
    - ``"jsonl"``: JSON lines; ``text_col``/``label_col`` may be dotted paths such as
      ``event_list.0.class``;
    - ``"auto"``: from the extension (``.csv``, ``.jsonl``/``.json``), else ``label<TAB>text``
      when every line has a tab, else one text a line. A file in which *most* lines have a
      tab but some do not is refused (:class:`DataFormatError` with the line numbers): it is
      a labelled file with broken lines, and reading it as plain text would put the labels
      inside the texts. When only a few lines have a tab, it is read as one text a line and
      a warning names the chosen format and those lines (``strict=True``, the command line:
      any mix is refused, with the line numbers of both kinds).

    ``label_col=None`` loads without labels. ``on_empty``: ``"error"`` (default) or ``"drop"``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no such file: {path}")
    name = name or path.stem
    fmt = format.lower()
    if fmt == "auto":
        suffix = path.suffix.lower()
        if suffix == ".csv":
            fmt = "csv"
        elif suffix in {".jsonl", ".json", ".ndjson"}:
            fmt = "jsonl"
        else:
            fmt = _guess_tab_format(path, read_lines(path, encoding), strict)
    texts: list[str] = []
    raw_labels: list | None = [] if label_col is not None else None

    if fmt in {"label-text", "text-label", "text"}:
        for lineno, line in enumerate(read_lines(path, encoding), 1):
            if fmt == "text":
                texts.append(line)
                continue
            if "\t" not in line:
                raise DataFormatError(f"{path}:{lineno}: no TAB; expected a '{fmt}' line")
            if fmt == "label-text":
                label, text = line.split("\t", 1)
            else:
                text, label = line.rsplit("\t", 1)
            texts.append(text)
            if raw_labels is not None:
                raw_labels.append(label.strip())
        if fmt == "text":
            raw_labels = None
    elif fmt == "csv":
        content = "\n".join(read_lines(path, encoding))
        reader = csv.DictReader(io.StringIO(content))
        columns = reader.fieldnames or []
        for col in [text_col] + ([label_col] if label_col else []):
            if col not in columns:
                raise DataFormatError(f"{path}: no column {col!r}; columns are {columns}")
        for row in reader:
            texts.append(row[text_col] or "")
            if raw_labels is not None:
                raw_labels.append(row[label_col])
    elif fmt == "jsonl":
        for lineno, line in enumerate(read_lines(path, encoding), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataFormatError(f"{path}:{lineno}: not valid JSON ({err.msg})") from err
            try:
                texts.append(str(_get_path(record, text_col)))
                if raw_labels is not None:
                    raw_labels.append(_get_path(record, label_col))
            except KeyError as err:
                raise DataFormatError(f"{path}:{lineno}: no field {err.args[0]!r}") from err
    else:
        raise ValueError(f"unknown format {format!r}; use auto, label-text, text-label, text, csv or jsonl")
    if not texts:
        raise DataFormatError(f"{path}: no texts found")
    texts, raw_labels = _handle_empty(texts, raw_labels, on_empty, name)
    labels = class_names = None
    if raw_labels is not None:
        labels, class_names = encode_labels(raw_labels)
    return TextDataset(name, texts, labels, class_names, source={"files": [str(path)]})

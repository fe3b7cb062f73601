import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from stc_utils import data
from stc_utils.data import (
    ChecksumError, DataFormatError, DataNotFoundError, EmptyTextError, load_dataset,
    load_text_file,
)

from conftest import needs_data

EXPECTED = {
    "stackoverflow": (20000, 20, "How do I fill a DataSet or a DataTable from a LINQ query resultset ?"),
    "searchsnippets": (12340, 8, "turtlesoft goldenseal software"),
    "biomedical": (20000, 20, "histochemical and autoradiographic studies"),
    "thucnews": (10000, 10, "词汇阅读是关键"),
}


@needs_data
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_benchmark_loads_verified_with_counts_and_classes(name):
    n, k, first = EXPECTED[name]
    ds = load_dataset(name)
    assert len(ds) == n and len(ds.labels) == n
    assert ds.n_classes == k and len(ds.class_names) == k
    assert ds.labels.min() == 0 and ds.labels.max() == k - 1
    assert ds.texts[0].startswith(first)  # the BOM of SearchSnippets is gone
    assert all(t.strip() for t in ds.texts)
    assert sum(ds.class_counts().values()) == n


@needs_data
def test_biomedical_utf16_labels_and_known_class_counts():
    ds = load_dataset("biomedical")
    assert np.bincount(ds.labels).tolist() == [1000] * 20
    ss = load_dataset("searchsnippets")
    assert ss.class_counts()["engineering"] == 370
    assert ss.class_counts()["education-science"] == 2660


@needs_data
def test_every_registered_file_matches_its_sha256():
    for info in data.DATASETS.values():
        for remote in info.files():
            assert data.sha256_of(data.fetch_file(info.name, remote)) == remote.sha256
    for remote in data.WORD2VEC.values():
        assert data.sha256_of(data.fetch_file("word2vec", remote)) == remote.sha256


@needs_data
def test_word2vec_vectors_are_48d():
    kv = data.load_word2vec("stackoverflow")
    assert kv.vector_size == 48 and len(kv.index_to_key) == 3484


@needs_data
def test_stratified_subsample_is_balanced_ordered_and_repeatable():
    ds = load_dataset("stackoverflow")
    sub = ds.subsample(400, seed=3)
    assert len(sub) == 400
    assert np.bincount(sub.labels).tolist() == [20] * 20
    assert sub.texts == load_dataset("stackoverflow", n=400, seed=3).texts
    assert sub.texts != ds.subsample(400, seed=4).texts
    positions = [ds.texts.index(t) for t in sub.texts[:20]]
    assert positions == sorted(positions)


def test_unknown_dataset_lists_known_names():
    with pytest.raises(KeyError, match="stackoverflow.*thucnews|known datasets"):
        load_dataset("agnews")


def test_missing_data_offline_names_variable_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv("STC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STC_OFFLINE", "1")
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "repo-data")
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("stackoverflow")
    msg = str(err.value)
    assert "STC_DATA_DIR" in msg and "https://raw.githubusercontent.com/jacoxu/StackOverflow" in msg


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    # a refused local port stands for "no internet": no traffic leaves the machine
    monkeypatch.delenv("STC_DATA_DIR", raising=False)
    monkeypatch.setenv("STC_OFFLINE", "0")
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path)
    remote = data.RemoteFile("x.txt", "http://127.0.0.1:9/x.txt", "0" * 64)
    with pytest.raises(DataNotFoundError, match="could not be downloaded from http://127.0.0.1:9/x.txt"):
        data.fetch_file("demo", remote)


def test_data_dir_that_is_not_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STC_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(DataNotFoundError, match="not a folder"):
        load_dataset("stackoverflow")


def _copy_dataset(tmp_path, name):
    src = Path(data.os.environ["STC_DATA_DIR"]) / name
    dst = tmp_path / name
    shutil.copytree(src, dst)
    for f in dst.iterdir():
        f.chmod(0o644)
    return dst


@needs_data
def test_corrupted_file_is_a_checksum_error(tmp_path, monkeypatch):
    dst = _copy_dataset(tmp_path, "stackoverflow")
    with open(dst / "title_StackOverflow.txt", "a", encoding="utf-8") as fh:
        fh.write("one more line\n")
    monkeypatch.setenv("STC_DATA_DIR", str(tmp_path))
    with pytest.raises(ChecksumError, match="checksum mismatch.*title_StackOverflow.txt"):
        load_dataset("stackoverflow")


@needs_data
def test_text_label_count_mismatch(tmp_path, monkeypatch):
    dst = _copy_dataset(tmp_path, "stackoverflow")
    labels = dst / "label_StackOverflow.txt"
    lines = labels.read_text().splitlines()[:-5]
    labels.write_text("\n".join(lines) + "\n")
    info = data.DATASETS["stackoverflow"]
    patched = dataclasses.replace(info, labels=dataclasses.replace(info.labels, sha256=data.sha256_of(labels)))
    monkeypatch.setitem(data.DATASETS, "stackoverflow", patched)
    monkeypatch.setenv("STC_DATA_DIR", str(tmp_path))
    with pytest.raises(DataFormatError, match="20000 texts .* but 19995 labels"):
        load_dataset("stackoverflow")


def test_dataset_object_refuses_count_mismatch():
    with pytest.raises(DataFormatError, match="3 texts but 2 labels"):
        data.TextDataset("x", ["a", "b", "c"], [0, 1])


# ---------------------------------------------------------------- user files


def test_label_tab_text(tmp_path):
    p = tmp_path / "agnews.txt"
    p.write_text("3\tstocks rally\n1\tnew phone\n3\tbonds fall\n", encoding="utf-8")
    ds = load_text_file(p)
    assert ds.texts == ["stocks rally", "new phone", "bonds fall"]
    assert ds.labels.tolist() == [1, 0, 1] and ds.class_names == ["1", "3"]


def test_text_tab_label_with_numeric_sorting(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text("a b\t10\nc d\t2\n", encoding="utf-8")
    ds = load_text_file(p, format="text-label")
    assert ds.class_names == ["2", "10"] and ds.labels.tolist() == [1, 0]


def test_csv_named_columns(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('title,topic\n"hello, world",greet\nbye,leave\n', encoding="utf-8")
    ds = load_text_file(p, text_col="title", label_col="topic")
    assert ds.texts == ["hello, world", "bye"] and ds.class_names == ["greet", "leave"]
    with pytest.raises(DataFormatError, match="no column 'text'"):
        load_text_file(p)


def test_jsonl_nested_label_path(tmp_path):
    p = tmp_path / "events.jsonl"
    rows = [{"text": "quake hits", "event_list": [{"class": "disaster"}]},
            {"text": "team wins", "event_list": [{"class": "sport"}]}]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ds = load_text_file(p, label_col="event_list.0.class")
    assert ds.labels.tolist() == [0, 1] and ds.class_names == ["disaster", "sport"]
    with pytest.raises(DataFormatError, match="no field 'event_list.1.class'"):
        load_text_file(p, label_col="event_list.1.class")


def test_unlabelled_file(tmp_path):
    p = tmp_path / "plain.txt"
    p.write_text("first text\nsecond text\n", encoding="utf-8")
    ds = load_text_file(p)
    assert ds.labels is None and len(ds) == 2
    assert ds.subsample(1, seed=0).texts[0] in ds.texts


def test_auto_refuses_a_mostly_tabbed_file_with_the_bad_line_numbers(tmp_path):
    p = tmp_path / "broken.txt"
    p.write_text("1\tok\n2\tfine\nno tab here\n1\tgood\n2 also no tab\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"3 of 5 lines have a TAB.*line\(s\) 3, 5"):
        load_text_file(p)
    ds = load_text_file(p, format="text")  # an explicit choice is obeyed
    assert ds.labels is None and ds.texts[0] == "1\tok"


def test_auto_warns_when_a_few_lines_have_a_tab(tmp_path):
    p = tmp_path / "mostly_plain.txt"
    p.write_text("first text\nsecond\ttext\nthird text\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"chose 'text'.*1 of 3 lines have a TAB.*line\(s\) 2"):
        ds = load_text_file(p)
    assert ds.labels is None and len(ds) == 3


def test_empty_texts_are_refused_or_dropped_with_a_count(tmp_path):
    p = tmp_path / "e.txt"
    p.write_text("1\tok\n2\t   \n1\tfine\n", encoding="utf-8")
    with pytest.raises(EmptyTextError, match="1 empty or whitespace-only text.*line\\(s\\) 2"):
        load_text_file(p)
    with pytest.warns(UserWarning, match="dropped 1 empty"):
        ds = load_text_file(p, on_empty="drop")
    assert ds.texts == ["ok", "fine"] and ds.labels.tolist() == [0, 0]


def test_wrong_encoding_names_the_problem(tmp_path):
    p = tmp_path / "u16.txt"
    p.write_text("1\tcafé\n", encoding="utf-16")
    with pytest.raises(DataFormatError, match="not valid utf-8: .*UTF-16 byte-order mark"):
        load_text_file(p)
    assert load_text_file(p, encoding="utf-16").texts == ["café"]
    q = tmp_path / "latin.txt"
    q.write_bytes("1\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="not valid"):
        load_text_file(q)


def test_missing_user_file(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such file"):
        load_text_file(tmp_path / "nothing.txt")

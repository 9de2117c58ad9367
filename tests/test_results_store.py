"""The results store: atomic units, resume checks, pandas table."""

import json

import pytest

from spear_bench.atomic_io import atomic_write_text
from spear_bench.errors import SpearBenchError
from spear_bench.results import ResultRow, ResultsStore, config_hash


def _rows(model="spear_base", task="ks", metrics=(("acc", 0.5), ("f1", 0.4))):
    return [
        ResultRow(model=model, suite="demo", task=task, metric=m, value=v, config_hash="abc", seed=42)
        for m, v in metrics
    ]


def test_written_unit_is_done_and_read_back_as_a_table(tmp_path):
    store = ResultsStore(tmp_path)
    assert not store.is_done("spear_base", "demo", "ks", "abc", 42)
    store.write_unit(_rows())
    assert store.is_done("spear_base", "demo", "ks", "abc", 42)
    table = store.table()
    assert list(table.columns)[:5] == ["model", "suite", "task", "metric", "value"]
    assert sorted(table.metric) == ["acc", "f1"]
    assert (table.git_commit != "").all() and (table.time != "").all()


def test_rewriting_a_unit_replaces_it_without_duplicates(tmp_path):
    store = ResultsStore(tmp_path)
    store.write_unit(_rows())
    store.write_unit(_rows(metrics=(("acc", 0.9), ("f1", 0.8))))
    table = store.table()
    assert len(table) == 2 and sorted(table.value) == [0.8, 0.9]


def test_rows_of_different_units_are_refused(tmp_path):
    with pytest.raises(SpearBenchError, match="must share"):
        ResultsStore(tmp_path).write_unit(_rows(task="ks") + _rows(task="ic"))


def test_leftover_temporary_files_of_a_killed_write_are_ignored(tmp_path):
    store = ResultsStore(tmp_path)
    store.write_unit(_rows())
    unit = store.unit_path("spear_base", "demo", "ic", "abc", 42)
    unit.parent.mkdir(parents=True, exist_ok=True)
    (unit.parent / f".{unit.name}.xyz.tmp").write_text('[{"model": "half')
    assert len(store.table()) == 2


def test_a_corrupt_unit_file_is_skipped_by_the_reader_with_a_warning_naming_it(tmp_path, capsys):
    store = ResultsStore(tmp_path)
    store.write_unit(_rows())
    path = store.unit_path("m", "demo", "ks", "abc", 42)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert len(store.table()) == 2  # the readable unit's rows
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {path}: unreadable results file "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); skipped"
    ]
    with pytest.raises(SpearBenchError, match=str(path)):
        store.read_unit(path)


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_text(path, json.dumps({"a": 1}))
    atomic_write_text(path, json.dumps({"a": 2}))
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_config_hash_is_stable_and_order_independent():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_a_unit_is_read_back_by_its_key_and_a_corrupt_file_is_a_one_line_error(tmp_path):
    store = ResultsStore(tmp_path)
    path = store.write_unit(_rows())
    assert [(r.metric, r.value) for r in store.unit_rows("spear_base", "demo", "ks", "abc", 42)] == [
        ("acc", 0.5),
        ("f1", 0.4),
    ]
    assert store.read_unit(path) == store.unit_rows("spear_base", "demo", "ks", "abc", 42)
    path.write_text("[{")
    with pytest.raises(SpearBenchError) as error:
        store.read_unit(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)

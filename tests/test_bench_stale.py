"""Stale-proof reuse: the unit key and the embedding cache key cover code, module settings and protocol;
``spear-bench run --force`` reruns on purpose."""

import functools
import json

import pytest

from spear_bench.bench import fingerprint, orchestrate
from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.fingerprint import code_version, embedding_settings, module_settings, module_source_hash
from spear_bench.bench.orchestrate import RunConfig, Unit, unit_config
from spear_bench.bench.scored_model import resolve_model
from spear_bench.cli import main
from spear_bench.results.store import ResultsStore, config_hash
from spear_bench.task_registry import load_suite


def _hash(demo_root, model: str, config: RunConfig, task: str = "demo_words") -> str:
    spec = load_suite("demo").task(task)
    return config_hash(unit_config(Unit(model, task), spec, config, demo_root))


def test_code_version_names_the_package_its_sources_and_libraries():
    version = code_version()
    assert version["spear_bench"] and len(version["sources"]) == 16 and version["libraries"]["torch"]


def test_unit_key_changes_with_the_code_the_protocol_and_the_layer_not_the_seed(monkeypatch, demo_root):
    config = RunConfig(suite="demo", models=("spear_tiny[random-init]",), data_root=str(demo_root))
    base = _hash(demo_root, "spear_tiny[random-init]", config)
    assert _hash(demo_root, "spear_tiny[random-init]", config) == base  # stable
    assert (
        _hash(
            demo_root,
            "spear_tiny[random-init]",
            RunConfig(suite="demo", models=("spear_tiny[random-init]",), layer="all"),
        )
        != base
    )
    # The seed is not in the key: the seeds of one config are one measurement, each in a file of its own
    # (<task>__<hash>__seed<N>.json), averaged by the report
    assert (
        _hash(
            demo_root, "spear_tiny[random-init]", RunConfig(suite="demo", models=("spear_tiny[random-init]",), seed=1)
        )
        == base
    )
    monkeypatch.setattr(orchestrate, "code_version", lambda: {**fingerprint.code_version(), "sources": "0" * 16})
    assert (
        _hash(demo_root, "spear_tiny[random-init]", config) != base
    )  # a fix to the encoder, probe or readers reruns the unit


def test_sources_hash_sees_an_edit_and_a_new_file(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("X = 1\n")
    first = fingerprint.sources_hash(tmp_path)
    (tmp_path / "pkg" / "a.py").write_text("X = 2\n")
    second = fingerprint.sources_hash(tmp_path)
    (tmp_path / "pkg" / "b.py").write_text("")
    assert len({first, second, fingerprint.sources_hash(tmp_path)}) == 3
    assert fingerprint.sources_hash(tmp_path, skip=("pkg",)) == fingerprint.sources_hash(tmp_path / "missing")


def test_hear_module_sources_are_in_the_unit_key(tmp_path, monkeypatch, demo_root, tiny_hear_module_source):
    (tmp_path / "stale_probe_module.py").write_text(tiny_hear_module_source)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = RunConfig(suite="demo", models=("hear:stale_probe_module",))
    before, source = _hash(demo_root, "hear:stale_probe_module", config), module_source_hash("stale_probe_module")
    (tmp_path / "stale_probe_module.py").write_text(tiny_hear_module_source.replace("320, 320", "400, 400"))
    assert module_source_hash("stale_probe_module") != source
    assert _hash(demo_root, "hear:stale_probe_module", config) != before
    assert module_source_hash("no_such_module_anywhere") is None


def _cache_dir(tmp_path, **kwargs) -> str:
    import hear_spear

    loaded = hear_spear.load_model(model="tiny", **kwargs)
    model = resolve_model("spear_tiny[random-init]")
    return EmbeddingCache(
        tmp_path, model.name, "w" * 16, "last", settings=embedding_settings(model, loaded, "hear_spear")
    ).model_dir.name


def test_embedding_cache_key_covers_the_loaded_models_settings(tmp_path):
    base = _cache_dir(tmp_path)
    assert _cache_dir(tmp_path) == base
    assert _cache_dir(tmp_path, chunk_seconds=10.0) != base  # chunking
    assert _cache_dir(tmp_path, layer="all") != base  # layer choice
    settings = module_settings(__import__("hear_spear").load_model(model="tiny"))
    configs = [entry["config"] for entry in settings.values() if "config" in entry]
    assert any(c.get("edge_pad_frames") == [3, 4] for c in configs)  # edge padding is a setting of the encoder


def _run_words(demo_root, tmp_path, model, *extra):
    return main(
        [
            "run",
            "--suite",
            "demo",
            "--model",
            model,
            "--tasks",
            "demo_words",
            "--data-root",
            str(demo_root),
            "--results",
            str(tmp_path / "results"),
            "--cache",
            str(tmp_path / "cache"),
            "--quiet",
            *extra,
        ]
    )


def _summary(out: str) -> tuple[int, int, int]:
    """(units run, units already finished, embeddings computed) from a run's output."""
    units = out.split("units: ")[1]
    computed = int(out.split("embedding cache: ")[1].split(" hits, ")[1].split(" misses")[0])
    return int(units.split(" run")[0]), int(units.split(", ")[1].split(" already")[0]), computed


@pytest.fixture
def small_probe_fresh_handles(monkeypatch):
    """A small probe grid (the test is about reuse, not scores); each CLI call loads its model anew
    (each run has its own loaded models), as a new process would."""
    from spear_bench.bench import hear_runner, probe

    small = functools.partial(probe.ProbeConfig, hidden_dim=32, max_epochs=6, grid_points=2, patience=1)
    for module in (hear_runner, orchestrate):  # where runs build their probe settings (and hash them)
        monkeypatch.setattr(module, "ProbeConfig", small)
    yield


@pytest.mark.slow
def test_changed_checkpoint_setting_recomputes_embeddings_and_reruns_the_unit(
    tmp_path, capsys, small_probe_fresh_handles, demo_root
):
    """Edge padding set in a checkpoint's config.json: same tensors (same weights hash), other embeddings."""
    from spear_bench.models.checkpoint import build_spear_tiny, save_spear_checkpoint

    ckpt = save_spear_checkpoint(build_spear_tiny(None, 0), tmp_path / "ckpt")
    model = f"spear_tiny@{ckpt}"
    assert _run_words(demo_root, tmp_path, model) == 0
    first = _summary(capsys.readouterr().out)
    assert first[:2] == (1, 0) and first[2] > 0
    assert _run_words(demo_root, tmp_path, model) == 0
    assert _summary(capsys.readouterr().out) == (0, 1, 0)  # nothing changed: skipped
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "edge_pad_frames": [0, 0]}))
    assert _run_words(demo_root, tmp_path, model) == 0
    assert _summary(capsys.readouterr().out) == (1, 0, first[2])  # every embedding computed again, unit rerun
    assert len(list((tmp_path / "results" / "demo" / "spear_tiny").glob("demo_words__*.json"))) == 2
    rows = {(r.metric, r.task_short, r.unit, r.higher_is_better) for r in ResultsStore(tmp_path / "results").rows()}
    assert ("top1_acc", "Words", "fraction", True) in rows  # facts of the registry
    # Every stored row carries the registry's facts for its metric (d_prime: no unit). A secondary metric that is
    # not finite on this near-chance probe (d_prime of a class with AUC 0 is -inf) is not stored at all.
    spec = load_suite("demo").task("demo_words")
    facts = {(m, "Words", spec.metric_facts(m).unit, spec.metric_facts(m).higher_is_better) for m in spec.metrics}
    assert rows <= facts and ("d_prime", "Words", "", True) in facts
    model_dirs = sorted(p for p in (tmp_path / "cache" / "hear").iterdir() if p.is_dir())  # not file_hashes.sqlite
    assert len(model_dirs) == 2  # the same weights hash, two settings
    edges = {
        tuple(
            json.loads((d / "model.json").read_text())["settings"]["module_settings"]["encoder"]["config"][
                "edge_pad_frames"
            ]
        )
        for d in model_dirs
    }
    assert edges == {(3, 4), (0, 0)}

    assert _run_words(demo_root, tmp_path, model, "--force") == 0
    assert _summary(capsys.readouterr().out) == (
        1,
        0,
        0,
    )  # --force reruns the unit; embeddings under its key are reused


@pytest.mark.parametrize("task", ["demo_ks", "demo_se"])  # one per s3prl runner: s3prl.problem, legacy
def test_a_superb_unit_key_covers_its_corpus_files(tmp_path, demo_root, task):
    """A changed, added or removed corpus file reruns a SUPERB unit, for both of s3prl's runners; the
    key reads names, sizes and times only (no hashing of a corpus at every rerun). Neither runner writes
    into the corpus folder, so a finished run keeps its key (the corpus is a copy: the demo root is shared)."""
    import shutil

    from spear_bench.demo.generate import generate_demo_data

    spec = load_suite("demo_superb").task(task)
    source = generate_demo_data(demo_root, legacy_superb=spec.s3prl_entry == "legacy", log=lambda *_: None)
    corpus = tmp_path / spec.layout.root
    shutil.copytree(spec.data_dir(source), corpus)
    config = RunConfig(suite="demo_superb", models=("spear_tiny[random-init]",), data_root=str(tmp_path))

    def key() -> str:
        return config_hash(unit_config(Unit("spear_tiny[random-init]", task), spec, config, tmp_path))

    base = key()
    assert key() == base
    audio = sorted(corpus.rglob("*.wav"))[0]
    audio.write_bytes(audio.read_bytes() + b"\0\0")  # a changed clip
    changed = key()
    assert changed != base
    (corpus / "extra.txt").write_text("x")  # an added file
    assert key() not in (base, changed)

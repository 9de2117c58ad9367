"""The six legacy-runner SUPERB tasks end to end: :func:`run_task` trains (where the task trains),
evaluates the test split with s3prl's own runner and expert, and reads the metric from the files
s3prl writes, in the units of the paper's tables.

========  ======================  ======================================  ===================================
task      s3prl downstream        what s3prl writes (read here)            metrics returned
========  ======================  ======================================  ===================================
ood_asr   ctc                     ``test-hyp.ark``, ``test-ref.ark``       ``wer`` (%, mean over the sub-corpora
                                  (scored with s3prl's ``ctc/metric.py``)  run), ``wer_<corpus>`` / ``cer_zh`` (%)
qbe       quesst14_dtw            ``benchmark.stdlist.xml`` (MTWV:        ``mtwv`` (eval queries, at the layer
                                  :mod:`.mtwv`)                            with the best dev MTWV), ``layer``
st        speech_translation      ``output-st-test.tsv`` (BLEU by s3prl's  ``bleu``
                                  ``count_sacreBLEU.py``)
se        enhancement_stft        ``test_metrics.txt``                     ``pesq``, ``stoi`` (%), ``si_sdri`` (dB)
ss        separation_stft         ``test_metrics.txt``                     ``si_sdri`` (dB), ``pesq``, ``stoi`` (%)
vc        a2o-vc-vcc2020          ``<step>/test/hdf5``, then s3prl's       ``mcd`` (dB), ``wer``, ``cer``, ``asv``
                                  ``evaluate.py``'s ``obj.log``            (accept %), ``asv_eer`` (%), F0 and
                                  (:mod:`.vc_eval`)                        duration; ``stand_in_*`` flags
========  ======================  ======================================  ===================================

``data_root`` holds one folder per task, in the layout ``spear_bench.superb_legacy.demo_corpora`` writes (and s3prl's
preparation scripts produce from the real corpora): ``ood_asr/``, ``quesst14Database/``,
``covost2/covost_en_de/``, ``voicebank_demand/voicebank/wav16k/``,
``libri2mix/Libri2Mix_prepared/wav16k/min/``, ``vcc2020/{vcc2020,lists}/``. A missing file is a
one-line :class:`DatasetError` naming the task and the path, raised before s3prl starts.

Resume: each unit (a recipe on one sub-corpus or target speaker) trains in its own s3prl
experiment folder under ``run_dir``; s3prl resumes from the newest ``states-*.ckpt`` there, a
finished training is not rerun, and a scored unit's ``metrics.json`` is read back instead of
evaluated again.

``demo=True`` runs the schedules of :data:`.legacy.DEMO_OVERRIDES` (a few steps, no DataLoader workers, smaller
heads where the published head alone takes seconds a step on a CPU: every change is listed
there and in docs/superb_legacy.md); without it the published recipes run unchanged.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import runpy
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from spear_bench import errors
from spear_bench.atomic_io import atomic_write_text
from spear_bench.errors import ConfigError, DatasetError
from spear_bench.superb import vc_eval
from spear_bench.superb.legacy import (
    DEMO_OVERRIDES,
    OOD_ASR_CORPORA,
    evaluate_legacy_downstream,
    ood_asr_corpus,
    run_downstream,
    run_legacy_downstream,
)
from spear_bench.superb.mtwv import score_quesst
from spear_bench.superb.recipes import legacy_recipe, load_recipe
from spear_bench.upstreams import register

TASKS = ("ood_asr", "qbe", "st", "se", "ss", "vc")
# One folder per task under data_root (the demo layout; docs/superb_legacy.md).
TASK_FOLDERS = {
    "ood_asr": "ood_asr",
    "qbe": "quesst14Database",
    "st": "covost2",
    "se": "voicebank_demand",
    "ss": "libri2mix",
    "vc": "vcc2020",
}
VC_TARGETS = ("TEF1", "TEF2", "TEM1", "TEM2")  # s3prl's docs/superb.md: one model each, MCD averaged

DEMO_OOD_ASR = ("es",)  # the demo corpus also has SBCSAE; one sub-corpus keeps the demo unit short
DEMO_VC_TARGETS = ("TEF1",)
DEMO_QBE_LAYERS = (-1,)  # the full run tries every hidden layer on dev


@dataclass(frozen=True)
class LegacyRun:
    """One call's settings, shared by the task functions."""

    upstream: str  # s3prl hub name (spear_tiny, spear_base, spear_bench_wavlm_base_plus, ...)
    data_root: Path
    run_dir: Path
    device: str
    demo: bool
    upstream_ckpt: str | None = None
    overrides: dict = field(default_factory=dict)  # extra config changes (tests), applied after the demo's
    vocoder: Path | None = None
    asr_model: Path | None = None
    seed: int = 1337  # s3prl's run_downstream default

    def folder(self, task: str) -> Path:
        return self.data_root / TASK_FOLDERS[task]

    def config_changes(self, recipe: str) -> dict:
        return {**(DEMO_OVERRIDES.get(recipe, {}) if self.demo else {}), **self.overrides}


def _require(task: str, paths) -> None:
    for path in paths:
        if not Path(path).exists():
            raise DatasetError(f"task {task}: missing {path}")


def _scp_audio(folder: Path) -> list[Path]:
    lines = (folder / "wav.scp").read_text().splitlines()
    return [Path(line.split(maxsplit=1)[1]) for line in lines if line.strip()]


def _tsv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _trained(run: LegacyRun, recipe: str, corpus: dict, expdir: Path) -> Path:
    """Train (or resume) ``recipe`` in ``expdir``; a finished run (``states-<total>.ckpt``) is kept."""
    changes = run.config_changes(recipe)
    total = changes.get("runner.total_steps", load_recipe(recipe)["runner"]["total_steps"])
    if not (expdir / f"states-{total}.ckpt").is_file():
        run_legacy_downstream(
            recipe, corpus, run.upstream, expdir, run.device, changes, seed=run.seed, upstream_ckpt=run.upstream_ckpt
        )
    return expdir


def _best_checkpoint(expdir: Path, names: tuple[str, ...]) -> Path:
    """s3prl's dev-selected checkpoint (``names``, the expert's spelling), else the newest states."""
    for name in names:
        if (expdir / name).is_file():
            return expdir / name
    states = sorted(expdir.glob("states-*.ckpt"), key=lambda p: int(p.stem.split("-")[1]))
    if not states:
        raise ConfigError(f"{expdir}: no s3prl checkpoint to evaluate")
    return states[-1]


def _evaluate_checkpoint(run: LegacyRun, checkpoint: Path, split: str = "test") -> None:
    """s3prl's ``-m evaluate -e <checkpoint> -t <split>``: args and config come from the checkpoint."""
    run_downstream(["-m", "evaluate", "-e", str(checkpoint), "-t", split, "--device", run.device])


def _cached(path: Path, compute: Callable[[], dict]) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    values = compute()
    atomic_write_text(path, json.dumps(values, indent=1, sort_keys=True))
    return values


# --- the six tasks ---------------------------------------------------------------------------------


def _ood_asr(run: LegacyRun) -> dict[str, float]:
    root = run.folder("ood_asr")
    corpora = DEMO_OOD_ASR if run.demo else tuple(OOD_ASR_CORPORA)
    units = {}
    for name in corpora:  # every corpus is checked before the first one trains
        corpus = ood_asr_corpus(root, name)
        tsvs = [Path(corpus[f"corpus.{split}"][0]) for split in ("train", "dev", "test")]
        _require("ood_asr", [corpus["corpus.path"], corpus["text.vocab_file"], *tsvs])
        _require("ood_asr", [Path(corpus["corpus.path"]) / row["path"] for tsv in tsvs for row in _tsv_rows(tsv)])
        units[name] = (OOD_ASR_CORPORA[name][0], corpus)
    metrics = {}
    for name, (recipe, corpus) in units.items():
        expdir = run.run_dir / f"ood_asr_{name}"

        def score(expdir=expdir, corpus=corpus, recipe=recipe):
            from s3prl.downstream.ctc.metric import cer, wer  # heavy optional dependency (s3prl)

            _trained(run, recipe, corpus, expdir)
            _evaluate_checkpoint(run, _best_checkpoint(expdir, ("dev-best.ckpt",)))
            hyps, refs = (_read_ark(expdir / f"test-{kind}.ark") for kind in ("hyp", "ref"))
            keys = sorted(refs)
            rate = cer if legacy_recipe(recipe).metric == "CER" else wer
            return {"error_rate": 100.0 * rate([hyps.get(k, "") for k in keys], [refs[k] for k in keys])}

        error = _cached(expdir / "metrics.json", score)["error_rate"]
        metrics[f"{'cer' if legacy_recipe(recipe).metric == 'CER' else 'wer'}_{name}"] = error
    metrics["wer"] = sum(metrics.values()) / len(metrics)
    return metrics


def _read_ark(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        key, _, text = line.partition(" ")
        entries[key] = text
    return entries


def _qbe(run: LegacyRun) -> dict[str, float]:
    root = run.folder("qbe")
    scoring = root / "scoring"
    lists = [scoring / f"language_key_{split}.lst" for split in ("utterances", "dev", "eval")]
    truths = [scoring / f"groundtruth_quesst14_{split}" for split in ("dev", "eval")]
    _require("qbe", [*lists, *truths])
    _require("qbe", [root.parent / ln.split()[0] for lst in lists for ln in lst.read_text().splitlines() if ln.strip()])
    corpus = {"datarc.dataset_root": str(root)}
    changes = run.config_changes("qbe")
    layers = DEMO_QBE_LAYERS if run.demo else tuple(range(_hidden_layer_count(run)))

    def mtwv(split: str, layer: int) -> float:
        expdir = run.run_dir / f"qbe_{split}_layer{layer}"
        truth = truths[0] if split == "dev" else truths[1]

        def score():
            evaluate_legacy_downstream(
                "qbe", corpus, run.upstream, expdir, split, layer, run.device, changes, run.upstream_ckpt, run.seed
            )
            return {"mtwv": score_quesst(expdir / "benchmark.stdlist.xml", truth).mtwv}

        return _cached(expdir / "metrics.json", score)["mtwv"]

    best = max(layers, key=lambda layer: mtwv("dev", layer))  # ties: the first layer
    return {"mtwv": mtwv("test", best), "layer": float(best)}


def _hidden_layer_count(run: LegacyRun) -> int:
    from s3prl import hub  # heavy optional dependency (s3prl)

    register()
    upstream = getattr(hub, run.upstream)(ckpt=run.upstream_ckpt) if run.upstream_ckpt else getattr(hub, run.upstream)()
    with torch.no_grad():
        return len(upstream([torch.zeros(16000)])["hidden_states"])


def _st(run: LegacyRun) -> dict[str, float]:
    prepared = run.folder("st") / "covost_en_de"
    tsvs = [prepared / f"{split}.tsv" for split in ("train", "dev", "test")]
    _require("st", [*tsvs, prepared / "config.yaml", prepared / "spm-tgt_text.model", prepared / "spm-tgt_text.txt"])
    expdir = run.run_dir / "st"

    def score():
        _trained(run, "st", {"taskrc.data": str(prepared)}, expdir)
        _evaluate_checkpoint(run, _best_checkpoint(expdir, ("dev-best.ckpt",)))
        return {"bleu": _s3prl_sacrebleu(expdir / "output-st-test.tsv")}

    return _cached(expdir / "metrics.json", score)


def _s3prl_sacrebleu(tsv: Path) -> float:
    """s3prl's ``speech_translation/count_sacreBLEU.py`` on the expert's hypothesis file (its stdout: the BLEU)."""
    if not tsv.is_file():
        raise ConfigError(f"{tsv}: s3prl's ST test pass wrote no output")
    out = io.StringIO()
    saved, sys.argv = sys.argv, ["count_sacreBLEU.py", "--exp-dir", str(tsv.parent), "--tsv-file", tsv.name]
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_module("s3prl.downstream.speech_translation.count_sacreBLEU", run_name="__main__")
    finally:
        sys.argv = saved
    return float(out.getvalue().split()[-1])


def _metrics_txt(path: Path) -> dict[str, float]:
    if not path.is_file():
        raise ConfigError(f"{path}: s3prl's test pass wrote no metrics")
    return {name: float(value) for name, value in (line.split() for line in path.read_text().splitlines() if line)}


def _enhancement(task: str, run: LegacyRun) -> dict[str, float]:
    base = run.folder(task)
    if task == "se":
        kaldi, splits, conds = base / "voicebank" / "wav16k", ("train", "dev", "test"), ("clean", "noisy")
    else:
        kaldi, splits = base / "Libri2Mix_prepared" / "wav16k" / "min", ("train-100", "dev_1000", "test")
        conds = ("mix_clean", "s1", "s2")
    folders = [kaldi / split / cond for split in splits for cond in conds]
    _require(task, [folder / "wav.scp" for folder in folders])
    _require(task, [audio for folder in folders for audio in _scp_audio(folder)])
    corpus = {f"loaderrc.{part}_dir": str(kaldi / split) for part, split in zip(("train", "dev", "test"), splits)}
    expdir = run.run_dir / task

    def score():
        _trained(run, task, corpus, expdir)
        _evaluate_checkpoint(run, _best_checkpoint(expdir, ("best-states-dev.ckpt",)))
        scores = _metrics_txt(expdir / "test_metrics.txt")  # the expert's averages; si_sdr is the improvement
        return {"si_sdri": scores["si_sdr"], "pesq": scores["pesq"], "stoi": 100.0 * scores["stoi"]}

    return _cached(expdir / "metrics.json", score)


def _vc(run: LegacyRun) -> dict[str, float]:
    base = run.folder("vc")
    corpus_dir, lists = base / "vcc2020", base / "lists"
    list_files = [lists / name for name in ("E_train_list.txt", "E_dev_list.txt", "eval_list.txt")]
    _require("vc", [*list_files, corpus_dir / "prompts" / "Eng_transcriptions.txt"])
    targets = DEMO_VC_TARGETS if run.demo else VC_TARGETS
    numbers = [n for path in list_files for n in path.read_text().split()]
    evals = list_files[2].read_text().split()
    sources = ("SEF1", "SEF2", "SEM1", "SEM2")
    wanted = [corpus_dir / spk / f"{n}.wav" for spk in targets for n in numbers]  # train, dev and eval ground truth
    _require("vc", wanted + [corpus_dir / spk / f"{n}.wav" for spk in sources for n in evals])
    if not run.demo:
        if run.vocoder is None:
            raise ConfigError(f"task vc: no vocoder given (vocoder=<{vc_eval.VOCODER_HINT}>)")
        if run.asr_model is None:
            raise ConfigError(f"task vc: no ASR model given (asr_model=<a local copy of {vc_eval.ASR_MODEL_NAME}>)")
    data_root = vc_eval.eval_data_root(base, run.run_dir / "vc_eval_data", run.demo)
    per_target = []
    for target in targets:
        expdir = run.run_dir / f"vc_{target}"
        corpus = {
            "datarc.data_root": str(corpus_dir),
            "datarc.lists_root": str(lists),
            "datarc.stats_root": str(run.run_dir / "vc_stats"),
        }

        def score(expdir=expdir, corpus=corpus, target=target):
            changes = {**run.config_changes("vc"), "downstream_expert.trgspk": target}
            total = changes.get("runner.total_steps", load_recipe("vc")["runner"]["total_steps"])
            if not (expdir / f"states-{total}.ckpt").is_file():
                run_legacy_downstream(
                    "vc",
                    corpus,
                    run.upstream,
                    expdir,
                    run.device,
                    changes,
                    seed=run.seed,
                    upstream_ckpt=run.upstream_ckpt,
                )
            # the recipe keeps no best checkpoint (s3prl picks the step by a sweep of decodes): the last one
            _evaluate_checkpoint(run, _best_checkpoint(expdir, ()))
            features, gl_wavs = expdir / "0" / "test" / "hdf5", expdir / "0" / "test" / "wav"
            wav_dir = gl_wavs if run.vocoder is None else vc_eval.vocode(features, run.vocoder, expdir / "0" / "test")
            scores = vc_eval.run_objective_evaluation(wav_dir, target, data_root, run.asr_model, expdir / "obj.log")
            return scores.__dict__

        per_target.append(_cached(expdir / "metrics.json", score))
    names = {"asv_accept": "asv"}
    metrics = {names.get(k, k): sum(t[k] for t in per_target) / len(per_target) for k in per_target[0]}
    metrics |= {"stand_in_vocoder": float(run.vocoder is None), "stand_in_asr": float(run.asr_model is None)}
    return metrics


RUNNERS: dict[str, Callable[[LegacyRun], dict[str, float]]] = {
    "ood_asr": _ood_asr,
    "qbe": _qbe,
    "st": _st,
    "se": lambda run: _enhancement("se", run),
    "ss": lambda run: _enhancement("ss", run),
    "vc": _vc,
}


def run_task(
    task: str,
    upstream: str,
    data_root: str | Path,
    run_dir: str | Path,
    device: str = "cpu",
    demo: bool = False,
    *,
    upstream_ckpt: str | None = None,
    vocoder: str | Path | None = None,
    asr_model: str | Path | None = None,
    overrides: dict | None = None,
    seed: int = 1337,
) -> dict[str, float]:
    """Run legacy SUPERB ``task`` (one of :data:`TASKS`) for s3prl upstream ``upstream`` on the
    corpora under ``data_root``; s3prl's experiment folders, its outputs and ``metrics.json`` go
    to ``run_dir``. Returns the metrics in the units of the paper's tables (see the module doc).

    ``vocoder`` / ``asr_model``: VC's pretrained vocoder folder and ASR model (required unless
    ``demo``; a demo without them uses flagged stand-ins). ``overrides``: extra dotted config
    changes applied after the demo's (tests shrink heads with it). ``seed``: s3prl's ``--seed``
    (its default 1337), for every unit of the task.
    """
    if task not in RUNNERS:
        raise ConfigError(f"unknown legacy SUPERB task {task!r} (known: {', '.join(TASKS)})")
    data_root, run_dir = Path(data_root), Path(run_dir)
    if not data_root.is_dir():
        raise DatasetError(f"task {task}: data root {data_root} does not exist")
    run = LegacyRun(
        upstream,
        data_root,
        run_dir,
        device,
        demo,
        upstream_ckpt,
        dict(overrides or {}),
        Path(vocoder) if vocoder else None,
        Path(asr_model) if asr_model else None,
        int(seed),
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    metrics = RUNNERS[task](run)
    seconds = time.perf_counter() - start
    atomic_write_text(run_dir / f"{task}.json", json.dumps({"metrics": metrics, "seconds": seconds}, indent=1))
    return metrics


def task_recipes(task: str, demo: bool) -> tuple[str, ...]:
    """The recipes (configs) a legacy task runs: OOD-ASR one per sub-corpus, the others their own."""
    if task == "ood_asr":
        return tuple(OOD_ASR_CORPORA[name][0] for name in (DEMO_OOD_ASR if demo else OOD_ASR_CORPORA))
    return (task,)


def legacy_run_config(task: str, demo: bool, overrides: dict | None = None) -> dict:
    """What a legacy task computes from (for its run-folder key): each recipe's published config and
    the changes applied to it, the sub-corpora / targets / layers run."""
    run = LegacyRun("", Path("."), Path("."), "cpu", demo, overrides=dict(overrides or {}))
    return {
        "task": task,
        "demo": demo,
        "recipes": {
            name: {"config": load_recipe(name), "changes": run.config_changes(name)}
            for name in task_recipes(task, demo)
        },
        "vc_targets": DEMO_VC_TARGETS if demo else VC_TARGETS,
        "qbe_layers": DEMO_QBE_LAYERS if demo else "all",
    }


def run_legacy_unit(arguments: dict) -> dict[str, float]:
    """:func:`run_task` with ``arguments`` in a process of its own (``python -m spear_bench.superb``);
    its metrics. The output shows as it comes; a spear-bench error comes back as the same one-line error.

    s3prl's legacy runner leaves process-wide state behind: after one legacy unit, a process saw
    isinstance(defaultdict(), dict) turn False, so SuperbSF then wrote its corpus csv wrongly
    (KeyError 'iob'); the unit's own process leaves the caller's as it was.
    """
    run_dir = Path(arguments["run_dir"])
    done = subprocess.run([sys.executable, "-m", "spear_bench.superb", json.dumps(arguments)])
    if done.returncode != 0:
        error_file = run_dir / "error.json"
        if error_file.is_file():
            error = json.loads(error_file.read_text())
            raise getattr(errors, error["type"], errors.SpearBenchError)(error["message"])
        raise errors.SpearBenchError(
            f"SUPERB task {arguments['task']}: s3prl's legacy runner exited with code {done.returncode} "
            "(its output is above)"
        )
    return json.loads((run_dir / f"{arguments['task']}.json").read_text())["metrics"]

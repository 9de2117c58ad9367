"""The demo suite's datasets, generated on the machine in the real HEAR and SUPERB formats.

Nothing can be downloaded here, so the demo makes its own small corpora, deterministically
(espeak-ng is deterministic; synthetic sounds take fixed seeds): the HEAR task folders
(:mod:`spear_bench.demo.hear_tasks`), the SUPERB corpora s3prl's ``s3prl.problem`` recipes read
(:mod:`spear_bench.demo.superb_corpora`) and, on request, those of the six legacy-runner SUPERB
tasks (``spear_bench.superb_legacy.demo_corpora``).

The corpora are small (about 6 minutes of audio in all) so that ``spear-bench demo`` runs
in minutes on 2 cores; every espeak-ng utterance of every corpus is synthesised in one
parallel pass, then the folders are written in parallel. The whole tree is built in a
temporary folder and renamed into place, with a stamp that names the generator version;
an existing complete tree is reused.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from spear_bench.audio.synth import Speaker, Utterance
from spear_bench.demo import hear_tasks, superb_corpora
from spear_bench.paths import home
from spear_bench.superb_legacy.demo_corpora import generate_legacy_demo
from spear_bench.task_registry import DEMO_SUITES, SuiteSpec, load_suite

# v4: the probe caps of tasks/demo.yaml (written into task_metadata.json); v5: the SUPERB corpora in
# the layouts s3prl's own recipes read (demo_superb)
GENERATOR_VERSION = "demo-data-v5"
LEGACY_SUPERB_FOLDER = "superb_legacy"  # the legacy-runner SUPERB corpora (tasks/demo_superb.yaml layout roots)
STAMP = f".complete-{GENERATOR_VERSION}"


def all_utterances() -> list[Utterance]:
    """Every espeak-ng utterance of the demo corpora, so that one parallel pass synthesises them all."""
    return hear_tasks.utterances() + superb_corpora.utterances()


def default_demo_root() -> Path:
    return home() / "work_dir" / "demo_data"


def demo_data_ready(root: Path) -> bool:
    return (Path(root) / STAMP).is_file()


def needs_legacy_superb_corpora(suite: SuiteSpec) -> bool:
    return any(getattr(spec, "s3prl_entry", None) == "legacy" for spec in suite.tasks)


def generate_demo_data(
    root: Path | None = None, force: bool = False, log=print, workers: int = 4, legacy_superb: bool = False
) -> Path:
    """Generate every demo dataset under ``root`` (default ``work_dir/demo_data``); reuse a complete one.

    ``legacy_superb``: also the corpora of the six legacy-runner SUPERB tasks (demo_superb), under
    ``root/superb_legacy`` (spear_bench.superb_legacy.demo_corpora; written in place, with their own
    stamp, since their kaldi lists hold absolute paths).
    """
    root = Path(root) if root is not None else default_demo_root()
    if not demo_data_ready(root) or force:
        _generate_demo_tree(root, log, workers)
    else:
        log(f"demo data: reusing {root}")
    if legacy_superb:
        generate_legacy_demo(root / LEGACY_SUPERB_FOLDER, force=force, workers=max(4, workers), log=log)
    return root


def _generate_demo_tree(root: Path, log, workers: int) -> None:
    start = time.perf_counter()
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    speaker = Speaker(workers=max(4, workers))
    speaker.say_all(all_utterances())  # one parallel pass; the makers below only read the cache
    jobs: dict[str, tuple] = {}  # output folder -> (maker, arguments, what to log)
    for spec in [spec for name in DEMO_SUITES for spec in load_suite(name).tasks]:
        if spec.kind == "hear":
            maker = hear_tasks.HEAR_MAKERS[spec.name]
            args = (
                (tmp / spec.folder, spec, speaker) if maker is hear_tasks.make_demo_words else (tmp / spec.folder, spec)
            )
            jobs[spec.folder] = (maker, args, f"{spec.name} (HEAR format) -> {root / spec.folder}")
        elif spec.s3prl_entry == "legacy":
            continue  # generate_legacy_demo writes these
        elif spec.layout.root not in jobs:
            layout = spec.layout.root
            jobs[layout] = (
                superb_corpora.SUPERB_MAKERS[layout],
                (tmp / layout, speaker),
                f"{layout} layout -> {root / layout}",
            )
    with ThreadPoolExecutor(workers) as pool:  # writing WAV/FLAC files and synthetic sounds overlap well
        futures = [(pool.submit(maker, *args), message) for maker, args, message in jobs.values()]
        for future, message in futures:
            future.result()
            log(f"demo data: {message}")
    (tmp / STAMP).write_text(
        json.dumps({"generator": GENERATOR_VERSION, "seconds": round(time.perf_counter() - start, 1)})
    )
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    log(f"demo data: generated in {time.perf_counter() - start:.0f} s")

"""Building blocks for the six SUPERB tasks that run through s3prl's legacy downstream experts.

OOD-ASR (``ctc``), QbE (``quesst14_dtw``), ST (``speech_translation``), SE (``enhancement_stft``),
SS (``separation_stft``) and VC (``a2o-vc-vcc2020``) have no ``s3prl.problem`` class; they run
through the experts of ``s3prl.downstream`` with s3prl's published configs. This package holds:

- ``recipes/*.yaml``: those configs, written from s3prl's own files (the wheel ships none), each
  naming its source; :mod:`.recipes` loads them and fills the run-time paths;
- :mod:`.mtwv`: QbE's scorer (Maximum Term-Weighted Value), which ships only with the corpus;
- :mod:`.demo_corpora`: tiny corpora in each task's on-disk layout, generated on the machine;
- :mod:`.compat`: named shims for what s3prl's downstream code lacks on this stack;
- :mod:`.train`: one recipe through s3prl's runner (train with resume; evaluate);
- :mod:`.vc_eval`: VC's objective evaluation as s3prl's decode.sh runs it;
- :mod:`.tasks`: :func:`run_task`, the one entry point: a task trained and scored end to end,
  metrics in the paper's units.

The orchestration (``spear-bench run --suite superb``) is wired elsewhere; see docs/superb_legacy.md.
"""

from spear_bench.superb_legacy.demo_corpora import generate_legacy_demo
from spear_bench.superb_legacy.tasks import TASKS, run_task

__all__ = ["TASKS", "generate_legacy_demo", "run_task"]

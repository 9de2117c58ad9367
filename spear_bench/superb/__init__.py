"""SUPERB, run by s3prl's own code: the 15 tasks' recipes, the one wrapper around each s3prl runner,
the files the recipes read, the one run-folder key.

- :mod:`.recipes`: the one table of recipes (:data:`~.recipes.RECIPES`): the nine ``s3prl.problem``
  tasks (class, folds, metrics) and the six legacy-runner tasks' published configs
  (``recipes/*.yaml``, each naming its source); the run config of a problem task.
- :mod:`.recipe_files`: the files a recipe reads besides the audio, checked and supplied offline.
- :mod:`.downloads`: the metadata files s3prl fetches at run time, fetched into the cache when the corpus lacks them.
- :mod:`.problem`: the nine ``s3prl.problem`` tasks through ``Problem.run`` (the shared frozen upstream).
- :mod:`.legacy`: the six legacy-runner tasks' recipes through s3prl's ``run_downstream`` (train with
  resume; evaluate), the demo schedule; ``python -m spear_bench.superb.legacy ARGS`` from a shell.
- :mod:`.legacy_tasks`: :func:`~.legacy_tasks.run_task`, a legacy task trained and scored end to end,
  metrics in the paper's units (``python -m spear_bench.superb`` runs one in a process of its own).
- :mod:`.mtwv`: QbE's scorer; :mod:`.vc_eval`: VC's objective evaluation as s3prl's decode.sh runs it.
- :mod:`.runs`: the one key of a run folder (config, model, code version, seed).

The patches that make s3prl run on this stack are in :mod:`spear_bench.compat`; the model's s3prl
hub entries in :mod:`spear_bench.upstreams`; the adapter to the benchmark's runner contract (the
shared upstream, the hidden-state cache) in :mod:`spear_bench.bench.superb_runner`. docs/superb.md,
docs/superb_legacy.md.
"""

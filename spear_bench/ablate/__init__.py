"""Ablations as runs: ``spear-bench ablate --config SWEEP.yaml`` sweeps pre-training knobs, scores, plots.

A sweep file (``configs/ablate/*.yaml``, :class:`SweepConfig`) names a base pre-training
config, knobs with their values (:data:`KNOBS`), the suite and tasks to score each variant
on, and the seeds. Every (knob values, seed) is a *variant*; its stages are units, each
skipped when finished, so a killed sweep resumes where it stopped:

1. ``targets``  data, teacher features, quantisers and tokens, shared by every variant whose
   knobs leave them unchanged (keyed by the hash of ``data`` + ``token_sets``; the variant's
   folder links to them);
2. ``pretrain`` the derived pre-training config (``variants/<knobs>/seed<s>/pretrain.yaml``),
   trained with resume (a killed run continues from its latest checkpoint);
3. ``score``    the encoder scored through the benchmark orchestrator exactly as
   ``spear-bench run --model <model>@<encoder>`` (finished units skipped by config hash);
4. ``store``    the scores copied into the results store under the variant's name,
   ``<model>@<knob>=<value>[,...]`` (the report's ablation convention), with a sidecar
   ``_ablations/<name>.json`` holding the knobs and the run's scale;
5. the ablation figure, measured series beside the paper's (``spear_bench.report.plots``).

``--launcher local|torchrun|slurm``: ``pretrain`` units run in this process, under
``torchrun`` (one DDP pre-training per variant) or as one submitit job per variant;
``score`` units go through the same launcher as ``spear-bench run``.

The package, in the order the data flows:

- :mod:`.knobs`: the settings a sweep can vary (:data:`~spear_bench.ablate.knobs.KNOBS`);
- :mod:`.config`: the sweep file (:class:`~spear_bench.ablate.config.SweepConfig`, :func:`load_sweep`);
- :mod:`.variants`: every (knob values, seed), its derived pre-training config and folders;
- :mod:`.stages`: the stage units (targets, pre-training with each launcher, scale, store) and their outcomes;
- :mod:`.figure`: the ablation figure;
- :mod:`.execute`: :func:`execute_sweep`, the one entry point (``spear-bench ablate``).
"""

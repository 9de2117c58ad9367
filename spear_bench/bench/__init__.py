"""Benchmark orchestration: HEAR and SUPERB suites, probes, cache, launchers.

The task registry (``tasks/*.yaml``) is ``spear_bench.task_registry``, shared with the reports.

- ``hear_data``, ``cache``, ``probe``, ``hear_runner``: the HEAR protocol (its scorers: ``spear_bench.hear_metrics``)
- ``superb_runner``: SUPERB (spear_bench.superb: s3prl's own recipes and runners) behind the runner contract
- ``runner``: the runner contract (``run(spec, model, context) -> TaskResult``), one runner per task kind
- ``orchestrate``, ``launchers``: units, resume, local / torchrun / SLURM execution
"""

"""Benchmark orchestration: HEAR and SUPERB suites, the demo suite, probes, metrics, cache, launchers.

- ``tasks``: the task registry (``tasks/*.yaml``)
- ``demo_suite_data``: the generated demo datasets (HEAR and SUPERB formats)
- ``hear_data``, ``cache``, ``probe``, ``metrics``, ``hear_runner``: the HEAR protocol
- ``superb_data``, ``superb_runner``: SUPERB through s3prl's upstream/Featurizer/heads
- ``runner``: the runner contract (``run(spec, model, context) -> TaskResult``), one runner per task kind
- ``orchestrate``, ``launchers``: units, resume, local / torchrun / SLURM execution
"""

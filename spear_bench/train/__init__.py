"""What every trainer shares (pre-training, fine-tuning), in the manner of icefall's ``icefall.checkpoint``:

- ``checkpoint``: the checkpoint layout (step folders + ``latest``), atomic save, ``weights_only`` load, keep-last-N;
- ``rng``: capture and restore of every random state a step consumes (exact resume);
- ``device``: the one device choice (``auto`` | ``cpu`` | ``cuda[:N]``, ``SPEAR_BENCH_CPU``);
- ``distributed``: the DDP process group, barriers and sums over ranks;
- ``log``: ``log.jsonl`` + TensorBoard, robust to a killed run's half-written line;
- ``optim``: ScaledAdam and the Eden schedule.

The trainers themselves are recipes over these: spear_bench.pretrain.trainer and spear_bench.finetune.trainer.
"""

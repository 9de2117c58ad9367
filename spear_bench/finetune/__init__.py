"""Fine-tunes of a pre-trained encoder (paper Sec. 5.1, Appendix B.3 / C; docs/finetuning.md).

- ASR on LibriSpeech: :func:`spear_bench.finetune.asr.finetune_asr` (pruned/full RNN-T or CTC).
- Audio tagging on AudioSet: :func:`spear_bench.finetune.tagging.finetune_audioset`.

Building blocks: ``librispeech`` / ``audioset`` (dataset readers -> lhotse cuts),
``mini_corpora`` (generated miniatures), ``tokenizer`` (BPE / letters), ``heads``,
``transducer`` (pure-PyTorch RNN-T losses), ``decoding``, ``metrics`` (WER, mAP),
``augment`` (SpecAugment, mixup), ``data`` (batches, samplers), ``model``, ``trainer``.
"""

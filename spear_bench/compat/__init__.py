"""Every patch spear-bench applies to third-party code, in one place; nothing in site-packages is edited.

One module per library it makes run on this stack (each module's docstring says, per patch, what
breaks, in which version, and when the patch can go):

- :mod:`.torchaudio_import`: ``import torchaudio`` without its CUDA-built extension (torchaudio
  2.11 wheel beside CPU torch 2.13); installed when ``spear_bench`` is imported.
- :mod:`.torch_load`: ``torch.load`` defaults for the libraries that reload the checkpoints they
  wrote (torch >= 2.6's ``weights_only=True``).
- :mod:`.heareval`: hear-eval-kit 2021.1.3's runners (TensorFlow stand-in, NumPy 2, Lightning
  1.9); installed at interpreter start by ``spear_bench_heareval_compat.pth``.
- :mod:`.s3prl`: s3prl 0.4.18 on torchaudio 2.11, huggingface_hub 1.x, pandas 2.
- :mod:`.s3prl_legacy`: s3prl's legacy downstream experts (OOD-ASR's corpus module, VC's scorers).

This package imports nothing heavy at import time: ``import spear_bench`` runs in every
interpreter of the environment (the .pth).
"""

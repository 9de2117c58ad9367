"""Output units for the ASR heads: a sentencepiece BPE vocabulary, or letters.

Both reserve id 0 for the blank symbol shared by CTC and RNN-T. The BPE layout follows
the icefall LibriSpeech recipes (``<blk>`` = 0, ``<sos/eos>`` = 1, ``<unk>`` = 2), with
500 units for real data (paper, Sec. 5.1); the letter set is the one of Appendix C
(26 letters, word boundary, apostrophe, blank). A tokenizer is saved into the run folder
(``tokenizer.json`` + ``bpe.model``) so that a resumed run decodes with the same units.
"""

from __future__ import annotations

import io
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

import sentencepiece as spm

from spear_bench.errors import ConfigError

BLANK_ID = 0
_WORD_CHARS = re.compile(r"[^A-Z' ]+")


def normalize_transcript(text: str) -> str:
    """LibriSpeech-style text: upper case, letters and apostrophes, single spaces."""
    return " ".join(_WORD_CHARS.sub(" ", text.upper().replace("-", " ")).split())


class Tokenizer(Protocol):
    kind: str
    blank_id: int
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def save(self, folder: Path) -> None: ...


class BpeTokenizer:
    """A sentencepiece BPE model (ids: 0 blank, 1 sos/eos, 2 unk, then pieces)."""

    kind = "bpe"
    blank_id = BLANK_ID

    def __init__(self, model_bytes: bytes):
        self._model_bytes = model_bytes
        self._sp = spm.SentencePieceProcessor(model_proto=model_bytes)
        if self._sp.piece_to_id("<blk>") != BLANK_ID:
            raise ConfigError("BPE model: the piece <blk> must have id 0")
        self.vocab_size = self._sp.get_piece_size()

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> "BpeTokenizer":
        texts = [normalize_transcript(t) for t in texts]
        if not any(texts):
            raise ConfigError("BPE training: no transcript text")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts),
            model_writer=model,
            model_type="bpe",
            vocab_size=vocab_size,
            character_coverage=1.0,
            user_defined_symbols=["<blk>", "<sos/eos>"],
            unk_id=2,
            bos_id=-1,
            eos_id=-1,
            # Small demo corpora cannot fill a large vocabulary: take what there is.
            hard_vocab_limit=False,
            input_sentence_size=100_000_000,
            minloglevel=2,
        )
        return cls(model.getvalue())

    def encode(self, text: str) -> list[int]:
        return list(self._sp.encode(normalize_transcript(text)))

    def decode(self, ids: Iterable[int]) -> str:
        return self._sp.decode([int(i) for i in ids if int(i) > 2])

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "bpe.model").write_bytes(self._model_bytes)
        (folder / "tokenizer.json").write_text(json.dumps({"kind": self.kind, "vocab_size": self.vocab_size}))

    @classmethod
    def load(cls, folder: Path) -> "BpeTokenizer":
        return cls((Path(folder) / "bpe.model").read_bytes())


class CharTokenizer:
    """Letters as in Appendix C: blank, word boundary ``|``, apostrophe, A-Z (29 ids)."""

    kind = "char"
    blank_id = BLANK_ID
    symbols = ("<blk>", "|", "'", *string.ascii_uppercase)

    def __init__(self):
        self._ids = {s: i for i, s in enumerate(self.symbols)}
        self.vocab_size = len(self.symbols)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> "CharTokenizer":
        return cls()  # fixed alphabet; nothing to learn

    def encode(self, text: str) -> list[int]:
        return [self._ids[c] for c in normalize_transcript(text).replace(" ", "|")]

    def decode(self, ids: Iterable[int]) -> str:
        chars = "".join(self.symbols[int(i)] for i in ids if int(i) != BLANK_ID)
        return " ".join(chars.replace("|", " ").split())

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tokenizer.json").write_text(json.dumps({"kind": self.kind, "vocab_size": self.vocab_size}))

    @classmethod
    def load(cls, folder: Path) -> "CharTokenizer":
        return cls()


@dataclass(frozen=True)
class TokenizerKind:
    name: str
    train: Callable[[Iterable[str], int], Tokenizer]
    load: Callable[[Path], Tokenizer]


TOKENIZERS: dict[str, TokenizerKind] = {
    "bpe": TokenizerKind("bpe", BpeTokenizer.train, BpeTokenizer.load),
    "char": TokenizerKind("char", CharTokenizer.train, CharTokenizer.load),
}


def _kind(name: str) -> TokenizerKind:
    if name not in TOKENIZERS:
        raise ConfigError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}")
    return TOKENIZERS[name]


def train_tokenizer(kind: str, texts: Iterable[str], vocab_size: int) -> Tokenizer:
    return _kind(kind).train(texts, vocab_size)


def load_tokenizer(folder: Path) -> Tokenizer:
    meta = Path(folder) / "tokenizer.json"
    if not meta.exists():
        raise ConfigError(f"{meta}: no tokenizer saved here")
    return _kind(json.loads(meta.read_text())["kind"]).load(folder)

"""What a model name means: the one grammar of a model reference, parsed by :meth:`ModelRef.parse`.

Three ways to name weights (every command uses this parser):

- ``NAME``: the published checkpoint of a catalogued name (``spear_base_sa``, ``wavlm_large``
  ...; :mod:`spear_bench.models.catalogue`), fetched and verified once
  (:mod:`spear_bench.models.weights`). A name without published weights (``spear_base``: an
  architecture, ``spear_tiny``) is an error saying what to write instead.
- ``NAME@WEIGHTS``: local weights (a folder or a file).
- ``NAME[random-init]``: random initialisation, only on request; the label
  ``NAME[random-init]`` is the model's name in results, reports and plots.

Also ``hear:MODULE[@WEIGHTS]`` (a HEAR 2021 module by its import name) and, where a command takes
one, a SPEAR checkpoint path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from spear_bench.errors import ConfigError
from spear_bench.models.registry import ALIASES, get_bundle, is_registered, model_names

HEAR_MODULE_PREFIX = "hear:"
RANDOM_INIT = "random-init"
RANDOM_INIT_SUFFIX = f"[{RANDOM_INIT}]"


_REF = re.compile(r"(?P<name>[^\[\]@]+?)\s*(?:\[(?P<option>[^\]]*)\])?")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model name: ``NAME``, ``NAME@WEIGHTS``, ``NAME[random-init]``, ``hear:MODULE[@WEIGHTS]``,
    or (where a command takes one) a SPEAR checkpoint path.

    ``name`` is the registered name (aliases resolved), the HEAR module, or "" for a
    checkpoint path (``weights`` is the path; its config.json decides the size); ``label``
    is the model's name in results (``NAME[random-init]`` for random weights).
    """

    name: str
    weights: str | None = None
    random_init: bool = False
    hear: bool = False
    text: str = ""
    checkpoint: bool = False

    @classmethod
    def parse(cls, spec: str, *, family_prefix: str = "", checkpoint_paths: bool = False) -> "ModelRef":
        """``spec`` as a model reference; a one-line ConfigError says what is wrong with it.

        ``family_prefix`` (``wavlm_`` ...): the family's short names come first (``large`` ->
        ``wavlm_large``). ``checkpoint_paths``: a plain existing path that names no registered
        model is a SPEAR checkpoint (``ref.checkpoint``), and anything else unregistered is an error
        naming both possibilities.
        """
        text = str(spec).strip()
        if checkpoint_paths:
            if "@" not in text and "[" not in text and not is_registered(text) and Path(text).exists():
                return cls("", text, False, False, text, checkpoint=True)
            if not is_registered(text.partition("@")[0].partition("[")[0].strip()):
                known = ", ".join(sorted(ALIASES) + model_names())
                raise ConfigError(f"{text!r} is neither a known model ({known}) nor an existing checkpoint path")
        target, at, path = text.partition("@")
        target = target.strip()
        if at and not path.strip():
            raise ConfigError(f"model {text!r}: give the weights after '@' (NAME@FOLDER or NAME@FILE)")
        weights = path.strip() or None
        if target.startswith(HEAR_MODULE_PREFIX):
            module = target[len(HEAR_MODULE_PREFIX) :].strip()
            if not module:
                raise ConfigError(f"model {text!r}: give a module after 'hear:'")
            return cls(module, weights, False, True, text)
        match = _REF.fullmatch(target)
        if not match:
            raise ConfigError(f"model {text!r}: expected NAME, NAME@WEIGHTS or NAME{RANDOM_INIT_SUFFIX}")
        option = match["option"]
        if option is not None and option.strip() != RANDOM_INIT:
            raise ConfigError(f"model {text!r}: unknown option [{option}] (the only one is {RANDOM_INIT_SUFFIX})")
        random_init = option is not None
        if random_init and weights:
            raise ConfigError(f"model {text!r}: give either @WEIGHTS or {RANDOM_INIT_SUFFIX}, not both")
        name = get_bundle(match["name"].strip(), family_prefix).name  # ConfigError naming the known models
        return cls(name, weights, random_init, False, text)

    @property
    def label(self) -> str:
        if self.checkpoint:
            return self.text
        return self.name + (RANDOM_INIT_SUFFIX if self.random_init else "")


def is_random_init_label(model: str) -> bool:
    return str(model).endswith(RANDOM_INIT_SUFFIX)


def random_init_warning(label: str) -> str:
    return (
        f"warning: {label}: randomly initialised weights (on request); its scores measure the pipeline, "
        "not a released model"
    )

"""QbE's metric: the Maximum Term-Weighted Value (MTWV) of a QUESST 2014 system output.

QUESST 2014 scores with a Java tool that ships only with the corpus (``scoring/score-TWV-Cnxe.sh``
+ ``MediaEvalQUESST2014.jar``), so the metric is implemented here from its definition.

Definition (NIST STD 2006 evaluation plan; MediaEval SWS 2013 / QUESST 2014 use it per file):

- a *trial* is a (query, document) pair; every query is tried against every document of the
  ECF, a trial missing from the system output takes the default score (``-10`` in s3prl's
  ``score-TWV-Cnxe.sh ... -10`` command);
- at threshold theta, a trial is detected when its score >= theta. For a query q with
  ``N_true(q)`` target documents and ``N_nt(q) = N_docs - N_true(q)`` non-target documents,
  ``P_miss(q) = 1 - N_hit(q) / N_true(q)`` and ``P_FA(q) = N_FA(q) / N_nt(q)``;
- ``TWV(theta) = 1 - mean over queries with N_true(q) > 0 of [P_miss(q) + beta * P_FA(q)]``
  (queries without any target are left out, as in NIST's definition), with
  ``beta = (C_FA / C_miss) * (1 - P_target) / P_target``;
- ``MTWV = max over theta of TWV(theta)``; theta = +inf (nothing detected) gives 0, so MTWV >= 0.
  The actual TWV (ATWV) uses the system's own YES/NO decisions instead of a threshold.

Constants. The QUESST scoring script sets ``P_target = 0.0008``, ``C_FA = 1``, ``C_miss = 100``
and passes the effective prior ``(C_miss * P_target) / (C_miss * P_target + C_FA * (1 - P_target))``
to the jar. Source: ``score-TWV-Cnxe.sh`` of the MediaEval QUESST 2015 scoring kit (its README and
script, found through the search tool's code index). QUESST 2014's kit ships a script of the same
name beside ``MediaEvalQUESST2014.jar`` (same authors, same arguments: ``<stdlist dir>
<groundtruth dir> [default score]``); its text was not available here, so the 2015 constants are
assumed equal. Hence ``beta = 0.01 * 0.9992 / 0.0008 = 12.49``.
This differs from NIST STD 2006's term-detection constants (``P_target = 1e-4``, ``C_FA = 0.1``,
``C_miss = 1``: ``beta = 999.9``), which :data:`NIST_STD2006_BETA` keeps for reference.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spear_bench.errors import DatasetError


def twv_beta(p_target: float, c_miss: float, c_fa: float) -> float:
    """The weight of a false alarm relative to a miss: (C_FA / C_miss) * (1 - P_target) / P_target."""
    return (c_fa / c_miss) * (1.0 - p_target) / p_target


QUESST_P_TARGET, QUESST_C_MISS, QUESST_C_FA = 0.0008, 100.0, 1.0
QUESST_BETA = twv_beta(QUESST_P_TARGET, QUESST_C_MISS, QUESST_C_FA)  # 12.49
NIST_STD2006_BETA = twv_beta(1e-4, 1.0, 0.1)  # 999.9
DEFAULT_SCORE = -10.0  # s3prl's scoring command: score-TWV-Cnxe.sh <dir> <groundtruth> -10


@dataclass(frozen=True)
class TwvResult:
    mtwv: float
    threshold: float  # lowest score still detected at the MTWV (inf: nothing detected)
    atwv: float | None  # from the system's YES/NO decisions, when it gave any
    n_queries: int  # queries with at least one target (the mean's denominator)
    n_documents: int


def _scored_queries(targets: dict[str, set[str]], documents: list[str]) -> list[str]:
    """Queries with at least one target among the documents (the others are left out of the mean)."""
    return sorted(q for q, docs in targets.items() if docs & set(documents))


def _cost_deltas(
    scores: dict[tuple[str, str], float], targets: dict[str, set[str]], documents: list[str], beta: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per trial of the scored queries: (score, change of the mean cost when it becomes a detection)."""
    queries = _scored_queries(targets, documents)
    values, deltas = [], []
    for q in queries:
        n_true = len(targets[q] & set(documents))
        n_nt = len(documents) - n_true
        for doc in documents:
            values.append(scores.get((q, doc), DEFAULT_SCORE))
            if doc in targets[q]:
                deltas.append(-1.0 / (n_true * len(queries)))  # one miss fewer
            else:
                deltas.append(beta / (n_nt * len(queries)) if n_nt else 0.0)  # one false alarm more
    return np.asarray(values, dtype=np.float64), np.asarray(deltas, dtype=np.float64), len(queries)


def maximum_twv(
    scores: dict[tuple[str, str], float],
    targets: dict[str, set[str]],
    documents: list[str],
    beta: float = QUESST_BETA,
    default_score: float = DEFAULT_SCORE,
) -> tuple[float, float]:
    """(MTWV, threshold) of trial scores ``{(query, document): score}`` against ``targets``
    (query -> its target documents), trying every query on every one of ``documents``."""
    scores = {key: float(value) for key, value in scores.items()}
    filled = {(q, d): scores.get((q, d), default_score) for q in targets for d in documents}
    values, deltas, n_queries = _cost_deltas(filled, targets, documents, beta)
    if n_queries == 0:
        raise DatasetError("MTWV: no query has a target document in the ground truth")
    order = np.argsort(-values, kind="stable")
    values, cost = values[order], 1.0 + np.cumsum(deltas[order])  # mean cost after detecting trials[:i+1]
    last_of_tie = np.r_[values[1:] != values[:-1], True]  # a threshold accepts every tied trial at once
    twv = 1.0 - cost[last_of_tie]
    best = int(np.argmax(twv))
    if twv[best] <= 0.0:
        return 0.0, float("inf")
    return float(twv[best]), float(values[last_of_tie][best])


def actual_twv(
    decisions: dict[tuple[str, str], bool], targets: dict[str, set[str]], documents: list[str], beta: float
) -> float:
    """TWV of the system's own YES/NO decisions (a missing trial is a NO)."""
    queries = _scored_queries(targets, documents)
    if not queries:
        raise DatasetError("ATWV: no query has a target document in the ground truth")
    cost = 0.0
    for q in queries:
        n_true = len(targets[q] & set(documents))
        n_nt = len(documents) - n_true
        hits = sum(decisions.get((q, d), False) for d in targets[q] if d in documents)
        false_alarms = sum(decisions.get((q, d), False) for d in documents if d not in targets[q])
        cost += (1.0 - hits / n_true) + (beta * false_alarms / n_nt if n_nt else 0.0)
    return 1.0 - cost / len(queries)


# --- files: the system's stdlist and the corpus' ground truth (NIST STD 2006 formats) ---------------


def _stem(name: str) -> str:
    return Path(name).stem if name.endswith(".wav") else Path(name).name


def read_stdlist(path: str | Path) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], bool]]:
    """Scores and YES/NO decisions of a ``*.stdlist.xml`` (s3prl's ``benchmark.stdlist.xml``)."""
    path = Path(path)
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as err:
        raise DatasetError(f"{path}: cannot read the QbE system output ({err})") from err
    scores, decisions = {}, {}
    for term_list in root.iter("detected_termlist"):
        query = term_list.get("termid")
        for term in term_list.iter("term"):
            key = (query, _stem(term.get("file", "")))
            score = float(term.get("score"))
            if key not in scores or score > scores[key]:  # several detections in one file: the best one
                scores[key] = score
            decisions[key] = decisions.get(key, False) or term.get("decision", "NO").upper() == "YES"
    return scores, decisions


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise DatasetError(f"{folder}: expected one {pattern} file of the QUESST ground truth, found {len(found)}")
    return found[0]


def read_groundtruth(folder: str | Path) -> tuple[list[str], dict[str, set[str]]]:
    """(documents, query -> target documents) of a QUESST ground-truth folder
    (``groundtruth_quesst14_{dev,eval}``: ``*.ecf.xml``, ``*.tlist.xml``, ``*.rttm``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: QUESST ground-truth folder not found (QbE)")
    try:
        ecf = ElementTree.parse(_one(folder, "*.ecf.xml")).getroot()
        tlist = ElementTree.parse(_one(folder, "*.tlist.xml")).getroot()
    except ElementTree.ParseError as err:
        raise DatasetError(f"{folder}: unreadable ECF or term list ({err})") from err
    documents = sorted({_stem(e.get("audio_filename", "")) for e in ecf.iter("excerpt")})
    targets: dict[str, set[str]] = {t.get("termid"): set() for t in tlist.iter("term")}
    found = defaultdict(set)
    for line in _one(folder, "*.rttm").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[0] == "LEXEME":
            found[fields[5]].add(_stem(fields[1]))  # LEXEME <file> <channel> <tbeg> <dur> <query> ...
    for query, docs in found.items():
        if query in targets:
            targets[query] |= docs
    return documents, targets


def score_quesst(
    stdlist: str | Path, groundtruth: str | Path, beta: float = QUESST_BETA, default_score: float = DEFAULT_SCORE
) -> TwvResult:
    """MTWV (and ATWV) of a system output against a QUESST ground-truth folder."""
    documents, targets = read_groundtruth(groundtruth)
    scores, decisions = read_stdlist(stdlist)
    mtwv, threshold = maximum_twv(scores, targets, documents, beta, default_score)
    atwv = actual_twv(decisions, targets, documents, beta) if decisions else None
    n_queries = len(_scored_queries(targets, documents))
    return TwvResult(mtwv, threshold, atwv, n_queries, len(documents))

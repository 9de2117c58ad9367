"""QbE's MTWV scorer (spear_bench/superb/mtwv.py) on a case computed by hand."""

import math

import pytest

from spear_bench.errors import DatasetError
from spear_bench.superb.mtwv import (
    NIST_STD2006_BETA,
    QUESST_BETA,
    actual_twv,
    maximum_twv,
    score_quesst,
)

DOCS = ["d1", "d2", "d3", "d4"]
TARGETS = {"A": {"d1"}, "B": {"d2", "d3"}, "C": set()}  # C has no target: left out of the mean
SCORES = {
    ("A", "d1"): 0.9,
    ("A", "d2"): 0.8,
    ("A", "d3"): 0.1,
    ("A", "d4"): 0.2,
    ("B", "d1"): 0.3,
    ("B", "d2"): 0.7,
    ("B", "d3"): 0.4,
    # ("B", "d4") missing: it takes the default score -10
    ("C", "d1"): 5.0,  # C's trials never count, however high they score
}


def test_beta_constants():
    """beta = (C_FA / C_miss) (1 - P_target) / P_target.
    QUESST (P_target 0.0008, C_FA 1, C_miss 100): 0.01 * 0.9992 / 0.0008 = 12.49.
    NIST STD 2006 (P_target 1e-4, C_FA 0.1, C_miss 1): 0.1 * 0.9999 / 0.0001 = 999.9."""
    assert QUESST_BETA == pytest.approx(12.49)
    assert NIST_STD2006_BETA == pytest.approx(999.9)


def test_mtwv_by_hand_quesst_beta():
    """Two scored queries (C has no target). A: 1 target (d1), 3 non-targets; B: 2 targets (d2, d3),
    2 non-targets. Trials by falling score: A-d1 .9 (T), A-d2 .8 (N), B-d2 .7 (T), B-d3 .4 (T),
    B-d1 .3 (N), A-d4 .2 (N), A-d3 .1 (N), B-d4 -10 (N, default).
    TWV = 1 - mean_q [P_miss(q) + beta P_FA(q)], beta = 12.49:
      theta = .9: A P_miss 0, P_FA 0; B P_miss 1 -> mean cost (0 + 1) / 2 = .5 -> TWV .5
      theta = .8: A P_FA 1/3 -> cost (12.49/3 + 1) / 2 = 2.5817 -> TWV -1.5817
      theta = .4: A P_FA 1/3, B P_miss 0 -> cost (4.1633 + 0) / 2 = 2.0817 -> TWV -1.0817
      every lower theta adds false alarms only; theta = +inf gives 0.
    MTWV = 0.5, reached at theta = 0.9."""
    mtwv, threshold = maximum_twv(SCORES, TARGETS, DOCS)
    assert mtwv == pytest.approx(0.5)
    assert threshold == pytest.approx(0.9)


def test_mtwv_by_hand_beta_one_moves_the_threshold():
    """Same trials, beta = 1:
      theta = .9: cost .5 -> TWV .5
      theta = .8: + 1/(2*3) -> cost .6667 -> TWV .3333
      theta = .7: - 1/(2*2) (B-d2 hit) -> .4167 -> TWV .5833
      theta = .4: - 1/4 (B-d3 hit) -> .1667 -> TWV .8333  (A: P_FA 1/3; B: perfect; (1/3 + 0)/2 = 1/6)
      theta = .3: + 1/4 (B-d1 FA) -> .4167 -> TWV .5833
      theta = .2, .1: + 1/6 each -> TWV .4167, .25;  theta = -10: + 1/4 -> TWV 0.
    MTWV = 5/6 at theta = 0.4."""
    mtwv, threshold = maximum_twv(SCORES, TARGETS, DOCS, beta=1.0)
    assert mtwv == pytest.approx(5 / 6)
    assert threshold == pytest.approx(0.4)


def test_atwv_by_hand():
    """Decisions YES for A-d1 and B-d2 only: A cost 0; B P_miss 1/2, no false alarm -> cost .5.
    ATWV = 1 - (0 + .5)/2 = 0.75 (any beta: no false alarm)."""
    decisions = {key: key in {("A", "d1"), ("B", "d2")} for key in SCORES}
    assert actual_twv(decisions, TARGETS, DOCS, QUESST_BETA) == pytest.approx(0.75)


def test_perfect_and_useless_systems():
    perfect = {(q, d): (1.0 if d in TARGETS[q] else 0.0) for q in TARGETS for d in DOCS}
    assert maximum_twv(perfect, TARGETS, DOCS)[0] == pytest.approx(1.0)
    inverted = {(q, d): (0.0 if d in TARGETS[q] else 1.0) for q in TARGETS for d in DOCS}
    mtwv, threshold = maximum_twv(inverted, TARGETS, DOCS)
    assert mtwv == 0.0 and math.isinf(threshold)  # detecting nothing is best


def test_no_scored_query_is_an_error():
    with pytest.raises(DatasetError, match="no query has a target"):
        maximum_twv(SCORES, {"C": set()}, DOCS)


def _write_groundtruth(folder):
    folder.mkdir()
    excerpts = "".join(f'<excerpt audio_filename="Audio/{d}.wav" channel="1" tbeg="0" dur="1"/>' for d in DOCS)
    (folder / "demo.ecf.xml").write_text(f'<ecf source_signal_duration="4" version="1">{excerpts}</ecf>')
    terms = "".join(f'<term termid="{q}"><termtext>{q}</termtext></term>' for q in TARGETS)
    (folder / "demo.tlist.xml").write_text(f'<termlist language="english">{terms}</termlist>')
    lines = [f"LEXEME {d} 1 0.00 1.00 {q} lex <NA> <NA>" for q, docs in TARGETS.items() for d in sorted(docs)]
    (folder / "demo.rttm").write_text("\n".join(lines) + "\n")


def test_score_quesst_reads_the_nist_files(tmp_path):
    """The same case through s3prl's stdlist format and a QUESST ground-truth folder."""
    _write_groundtruth(tmp_path / "groundtruth")
    yes = {("A", "d1"), ("B", "d2")}
    lists = []
    for q in TARGETS:
        terms = "".join(
            f'<term file="{d}" channel="1" tbeg="0.000" dur="0.00" score="{SCORES[(q, d)]:.4f}" '
            f'decision="{"YES" if (q, d) in yes else "NO"}"/>'
            for d in DOCS
            if (q, d) in SCORES
        )
        lists.append(
            f'<detected_termlist termid="{q}" term_search_time="1.0" oov_term_count="1">{terms}</detected_termlist>'
        )
    stdlist = tmp_path / "benchmark.stdlist.xml"
    stdlist.write_text(f'<stdlist termlist_filename="benchmark.stdlist.xml">{"".join(lists)}</stdlist>')
    result = score_quesst(stdlist, tmp_path / "groundtruth")
    assert result.mtwv == pytest.approx(0.5) and result.threshold == pytest.approx(0.9)
    assert result.atwv == pytest.approx(0.75)
    assert (result.n_queries, result.n_documents) == (2, 4)


def test_missing_groundtruth_names_the_folder(tmp_path):
    with pytest.raises(DatasetError, match="groundtruth_quesst14_dev"):
        score_quesst(tmp_path / "x.stdlist.xml", tmp_path / "groundtruth_quesst14_dev")

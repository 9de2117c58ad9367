"""Statistics over seeds: the 95 % interval of a mean and Welch's t-test between two sets of seeds.

A measured number with several seeds is the mean of its per-seed scores; its interval is the
Student-t interval of that mean, ``mean ± t_{0.975, n-1} · s / √n`` with ``s`` the sample standard
deviation (n − 1 in the denominator). Two models differ beyond their seed spread when Welch's
unequal-variance t-test on their per-seed scores gives p < 0.05 (two-sided): it assumes neither
equal variances nor equal seed counts, and the seeds of one model are independent of the other's.
Both need two seeds or more per side; with fewer there is no spread to compare against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as _scipy_stats

CONFIDENCE = 0.95
ALPHA = 0.05
TEST_NAME = "Welch's t-test (two-sided, unequal variances) on per-seed scores"


@dataclass(frozen=True)
class Interval:
    mean: float
    half_width: float  # NaN with fewer than two values
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def sample_std(values: Sequence[float]) -> float:
    """The sample standard deviation (n − 1 in the denominator); NaN for fewer than two values."""
    n = len(values)
    if n < 2:
        return math.nan
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The Student-t confidence interval of the mean of ``values`` (per-seed scores)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("t_interval: no values")
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Interval(mean, math.nan, n)
    t = float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1))
    return Interval(mean, t * sample_std(values) / math.sqrt(n), n)


@dataclass(frozen=True)
class WelchResult:
    t: float
    df: float
    p: float
    difference: float  # mean(a) - mean(b)

    def differs(self, alpha: float = ALPHA) -> bool:
        return self.p < alpha


def welch_test(a: Sequence[float], b: Sequence[float]) -> WelchResult:
    """Welch's two-sided t-test of mean(a) = mean(b); needs two values or more on each side.

    When both sides have no spread at all (every seed the same score), the test is undefined;
    the result is then p = 0 when the means differ (no seed could explain the gap) and p = 1 when
    they are equal.
    """
    a, b = [float(v) for v in a], [float(v) for v in b]
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"welch_test: needs two seeds or more per side, got {len(a)} and {len(b)}")
    diff = sum(a) / len(a) - sum(b) / len(b)
    va, vb = sample_std(a) ** 2 / len(a), sample_std(b) ** 2 / len(b)
    if va + vb == 0:
        return WelchResult(math.copysign(math.inf, diff) if diff else 0.0, math.nan, 0.0 if diff else 1.0, diff)
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    p = float(2 * _scipy_stats.t.sf(abs(t), df))
    return WelchResult(t, df, p, diff)

"""The report's statistics, each from a well-kept library and each honest about its limits.

- Bootstrap confidence intervals (scipy.stats.bootstrap, percentile method) with a generator
  derived from a fixed seed and the interval's own key, so the same results always give the
  same intervals and adding a table does not shift another table's intervals.
- The probability that one tuner's final result beats another's, over all pairs of seeds
  (the Mann-Whitney U statistic divided by the number of pairs; ties count one half).
- Tuner comparisons over blocks (task x seed): Friedman's test with the Nemenyi post-hoc test
  (scipy, scikit-posthocs) for three or more tuners, Wilcoxon's signed-rank test for two.
Where there are too few values for a statistic, it says so in a `note` instead of failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scikit_posthocs
from scipy import stats

from harness.seeding import derive_rng

BOOTSTRAP_SEED = 0
N_RESAMPLES = 2000
CONFIDENCE = 0.95
MIN_BOOTSTRAP = 3  # fewer values than this give no interval
ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    """A mean over `n` values with its bootstrap confidence interval (NaN when n is too small)."""

    mean: float
    low: float
    high: float
    n: int

    def describe(self, digits: int = 4) -> str:
        if self.n == 0:
            return "-"
        if math.isnan(self.low):
            return f"{self.mean:.{digits}f} (n={self.n}, no CI)"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def bootstrap_mean(values: np.ndarray | pd.Series, *key: str | int) -> Interval:
    """The mean of the finite `values` and its 95 % percentile bootstrap interval, drawn with a
    generator derived from `key` (e.g. the table, task and tuner it belongs to)."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(np.mean(data))
    if data.size < MIN_BOOTSTRAP:
        return Interval(mean, math.nan, math.nan, int(data.size))
    if np.all(data == data[0]):
        return Interval(mean, mean, mean, int(data.size))
    result = stats.bootstrap(
        (data,),
        np.mean,
        n_resamples=N_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        rng=derive_rng(BOOTSTRAP_SEED, "bootstrap", *key),
    )
    interval = result.confidence_interval
    return Interval(mean, float(interval.low), float(interval.high), int(data.size))


def probability_lower(losses: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """P(a loss of `losses` < a loss of `reference`) over all pairs, ties counted one half,
    and the number of pairs. NaN when either side is empty."""
    mine = np.asarray(losses, dtype=float)
    mine = mine[np.isfinite(mine)]
    theirs = np.asarray(reference, dtype=float)
    theirs = theirs[np.isfinite(theirs)]
    pairs = int(mine.size * theirs.size)
    if pairs == 0:
        return math.nan, 0
    u_statistic = stats.mannwhitneyu(theirs, mine, alternative="two-sided").statistic
    return float(u_statistic) / pairs, pairs


@dataclass(frozen=True)
class RankTest:
    """Tuners compared over complete blocks (rows) of losses: mean ranks (1 = best), the
    omnibus test, and for three or more tuners the Nemenyi p-values and critical difference."""

    test: str
    blocks: int
    mean_ranks: pd.Series
    statistic: float
    p_value: float
    pairwise_p: pd.DataFrame | None
    critical_difference: float | None
    note: str | None

    @property
    def done(self) -> bool:
        return self.note is None


def compare_tuners(losses: pd.DataFrame, alpha: float = ALPHA) -> RankTest:
    """Compare the tuners (columns) over the blocks (rows) where all of them have a loss."""
    complete = losses.dropna()
    tuners, blocks = list(complete.columns), len(complete)
    ranks = complete.rank(axis=1, method="average").mean() if blocks else pd.Series(dtype=float)

    def skipped(note: str) -> RankTest:
        return RankTest("", blocks, ranks, math.nan, math.nan, None, None, note)

    if len(tuners) < 2:
        return skipped("A comparison of tuners needs at least two tuners.")
    if blocks < 2:
        return skipped(
            f"A comparison of tuners needs at least two task x seed blocks where every tuner "
            f"has a test score; this study has {blocks}."
        )
    if len(tuners) == 2:
        first, second = complete[tuners[0]], complete[tuners[1]]
        if np.allclose(first, second, rtol=0, atol=0):
            return skipped("The two tuners have equal scores in every block; nothing to test.")
        result = stats.wilcoxon(first, second)
        return RankTest(
            "Wilcoxon signed-rank",
            blocks,
            ranks,
            float(result.statistic),
            float(result.pvalue),
            None,
            None,
            None,
        )
    if complete.nunique(axis=1).le(1).all():
        return skipped("All tuners have equal scores in every block; nothing to test.")
    result = stats.friedmanchisquare(*(complete[t].to_numpy() for t in tuners))
    pairwise = scikit_posthocs.posthoc_nemenyi_friedman(complete.to_numpy())
    pairwise.index = pairwise.columns = tuners
    return RankTest(
        "Friedman + Nemenyi",
        blocks,
        ranks,
        float(result.statistic),
        float(result.pvalue),
        pairwise,
        nemenyi_critical_difference(len(tuners), blocks, alpha),
        None,
    )


def nemenyi_critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Demšar's (2006) critical difference of mean ranks for k groups over n blocks."""
    q_alpha = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q_alpha * math.sqrt(k * (k + 1) / (6 * n)))

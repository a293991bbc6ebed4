"""The figures of docs/ODD.md §12, from the ensembles of tests/studies/test_patterns.py.

    .venv/bin/python tools/pattern_figures.py    # prints the table's result column

Each figure is computed from the same ensembles the tests use (N runs, replicate i with
posterior draw i and seed i), so the ODD reports what the tests test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "studies"), str(ROOT / "tests")]

import test_patterns as T  # noqa: E402


def share(mask) -> str:
    return f"{np.mean(mask):.2f}"


def main() -> None:
    base = T.ensemble()
    n = len(base)
    print(f"1: {int((base.integrated_month.astype(float) <= 36).sum())} of {n:,} integrate "
          "by month 36")
    d, a = base.dac_team_direction_m36, base.dac_team_alignment_m36
    print(f"2: team direction >= 0.6 in {np.mean(d >= 0.6):.0%} (median {d.median():.2f}); "
          f"team alignment <= 0.4 in {np.mean(a <= 0.4):.0%} (median {a.median():.2f})")
    print(f"3: host changes 2-3 by month 36 in {np.mean(base.host_changes_m36.between(2, 3)):.0%}")
    for label, rate in (("high", 0.3), ("low", 0.04)):
        other = T.ensemble(turnover_rate=rate)
        p, sign = T.mcnemar(T.piloted(base), T.piloted(other))
        n10 = int((T.piloted(base) & ~T.piloted(other)).sum())
        n01 = int((~T.piloted(base) & T.piloted(other)).sum())
        print(f"4 {label}: P(pilot) {share(T.piloted(base))} at the posterior's rate against "
              f"{share(T.piloted(other))} at {rate:.0%}/yr; discordant {n10} vs {n01}, "
              f"p = {p:.2g}")
    enabled = T.ensemble("enabling_national")
    b120, e120 = T.ensemble(months=120), T.ensemble("enabling_national", months=120)
    print(f"5: enabling_national P(pilot) {share(T.piloted(enabled))} vs "
          f"{share(T.piloted(base))}; P(integrated by 120) "
          f"{share(e120.outcome == 'integrated')} vs {share(b120.outcome == 'integrated')}")
    wins = T.ensemble("small_wins")
    diff = wins.mean_engagement.to_numpy() - base.mean_engagement.to_numpy()
    print(f"6 engagement: {wins.mean_engagement.mean():.2f} vs {base.mean_engagement.mean():.2f}"
          f" (Wilcoxon p = {stats.wilcoxon(diff).pvalue:.2g})")
    c0, c1 = (base.outcome == "collapsed").to_numpy(), (wins.outcome == "collapsed").to_numpy()
    p, _ = T.mcnemar(c0, c1)
    print(f"6 collapse: {int(c1.sum())} with small_wins vs {int(c0.sum())} at baseline of "
          f"{n:,} (p = {p:.2g})")
    months = base.pilot_month.dropna().astype(float).to_numpy()
    q = np.percentile(months, [5, 50, 95])
    print(f"7: {len(months):,} piloted; {np.mean(months < 36):.0%} before month 36, "
          f"{np.mean(months > 36):.0%} after (5th/50th/95th {q[0]:.0f}/{q[1]:.0f}/{q[2]:.0f})")


if __name__ == "__main__":
    main()

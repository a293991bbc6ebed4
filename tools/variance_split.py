"""What the intervals of a report include: the variance of P(pilot by month 60) at
baseline under the case posterior, split into run-to-run (stochastic), parametric and
structural parts (docs/ODD.md §13.4).

    .venv/bin/python tools/variance_split.py [DRAWS] [RUNS_PER_DRAW]

Law of total variance over DRAWS posterior draws (default 400) x RUNS_PER_DRAW seeds
(default 20): stochastic = the mean within-draw variance, parametric = the variance of the
draws' means; the structural part is the sum over the structural choices of the variance
of the draws' means explained by each choice's form (main effects).
"""

from __future__ import annotations

import sys

import pandas as pd

from sim.core.outputs import reached_pilot
from sim.core.registry import PARAMETERS, resolve
from sim.core.scenarios import scenario_values
from sim.experiment.posterior import CASE_POSTERIOR, load_posterior
from sim.run import run_projects


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    draws = load_posterior(CASE_POSTERIOR).iloc[:n]
    values = [resolve({**d, **scenario_values("baseline")})
              for d in draws.to_dict("records") for _ in range(k)]
    frame = run_projects(values, list(range(len(values))), 60)
    y = reached_pilot(frame.outcome).to_numpy().astype(float).reshape(len(draws), k)
    means = pd.Series(y.mean(axis=1))
    total = y.var()
    stochastic, parametric = y.var(axis=1).mean(), means.var(ddof=0)
    forms = [c for c in draws.columns if PARAMETERS[c].kind == "choice"]
    parts = {f: means.groupby(draws[f].to_numpy()).transform("mean").var(ddof=0) / total
             for f in forms}
    print(f"P(pilot by 60) {y.mean():.3f} over {n} draws x {k} runs; of its variance "
          f"{stochastic / total:.0%} stochastic, {parametric / total:.0%} parametric, of "
          f"which structural {sum(parts.values()):.1%} "
          + ", ".join(f"{f} {v:.1%}" for f, v in parts.items()))
    point = run_projects([resolve(scenario_values("baseline"))] * 2000, list(range(2000)), 60)
    print(f"at the registry's values: P(pilot by 60) {reached_pilot(point.outcome).mean():.3f} "
          "(2,000 runs)")


if __name__ == "__main__":
    main()

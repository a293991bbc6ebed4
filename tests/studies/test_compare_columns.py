"""icsim compare on the column path (issue 24): each scenario's draws validated and packed
once, runs returned as arrays, one frame built at the end -- the same runs, table and
variance split, bit for bit, as the dict-and-frame-per-run path it replaces, kept here as
the oracle."""

import numpy as np
import pandas as pd
import pytest

from sim.analysis.variance import forms_of, split_draws
from sim.core.outputs import GATE_FIELDS
from sim.core.registry import PARAMETERS, resolve
from sim.core.scenarios import resolve_scenario
from sim.experiment.design import run_seed
from sim.experiment.posterior import CASE_POSTERIOR, load_posterior
from sim.run import for_replicates, pack_draws, run_projects, with_draws
from sim.studies.compare import SPLIT_SEEDS, compare, summarise, variance_split


def old_runs(names, replicates, seed, months, draws):
    """The runs frame as compare built it before (main at 23203a6): a resolved dict per
    run, a frame per task turned into a dict per run, a frame of the dicts."""
    rows = []
    for name in names:
        scenario = resolve_scenario(name)
        seeds = [(i, run_seed(seed, 0, i)) for i in range(replicates)]
        values = [resolve(v) for v in with_draws(scenario.values, draws, range(replicates))]
        frame = run_projects(values, [s for _, s in seeds], months,
                             schedule=scenario.schedule_list())
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        for row, (replicate, s) in zip(records, seeds, strict=True):
            row = {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
            row.update(seed=s, scenario=scenario.name, months=months, replicate=replicate)
            rows.append(row)
    order = {s: i for i, s in enumerate(names)}
    runs = pd.DataFrame(rows).sort_values(
        ["scenario", "replicate"], key=lambda c: c.map(order) if c.name == "scenario" else c
    ).reset_index(drop=True)
    front = ["scenario", "replicate", "seed", "outcome"]
    runs = runs[front + [c for c in runs.columns if c not in front]]
    for column in GATE_FIELDS:
        runs[column] = runs[column].astype("float64")
    return runs


def old_variance_split(names, draws, months, seed, n):
    """compare.variance_split as it was (main at 23203a6): a resolved dict per draw, a
    frame of the runs."""
    rows = []
    seeds = [run_seed(seed, 1, i) for i in range(n * SPLIT_SEEDS)]
    choices = [name for name, p in PARAMETERS.items() if p.kind == "choice"]
    forms = forms_of(draws[:n], choices)
    for name in names:
        scenario = resolve_scenario(name)
        resolved = [resolve({**draws[d], **scenario.values}) for d in range(n)]
        values = [resolved[i // SPLIT_SEEDS] for i in range(n * SPLIT_SEEDS)]
        frame = run_projects(values, seeds, months, schedule=scenario.schedule_list())
        held = forms[[c for c in forms.columns if c not in scenario.values]]
        for label, test in (("pilot", ("pilot", "integrated")), ("integrated", ("integrated",))):
            y = frame.outcome.isin(test).to_numpy(float).reshape(n, SPLIT_SEEDS)
            part = split_draws(y, held if len(held.columns) else None)
            largest = max(part.by_form, key=lambda k: part.by_form[k]) if part.by_form \
                else ""
            rows.append({"scenario": name, "outcome": label, "variance": part.total,
                         "stochastic_share": part.stochastic,
                         "parametric_share": part.parametric,
                         "structural_share": part.structural,
                         "largest_structural": largest,
                         "largest_structural_share": part.by_form.get(largest, np.nan),
                         "draws": n, "seeds_per_draw": SPLIT_SEEDS})
    return pd.DataFrame(rows)


def test_packed_draws_are_the_resolved_dicts_packed():
    """pack_draws: the scenario's values win over the draw's, choices coded, bit for bit
    what pack_many gives of the resolved dicts."""
    from sim.engine.layout import pack_many

    draws = load_posterior(CASE_POSTERIOR).iloc[:40]
    records = draws.to_dict("records")
    for name in ("baseline", "stable_team+toolkit"):
        values = resolve_scenario(name).values
        replicates = [0, 3, 39, 41, 79]
        expected = pack_many([resolve(v) for v in with_draws(values, records, replicates)])
        got = for_replicates(pack_draws(values, draws), replicates)
        assert got.tobytes() == expected.tobytes()
    assert pack_draws({"turnover_rate": 0.2}).tobytes() == \
        pack_many([resolve({"turnover_rate": 0.2})]).tobytes()


@pytest.mark.slow
def test_compare_gives_the_old_runs_table_and_split_bit_for_bit():
    names = ["baseline", "enabling_national", "stable_team+toolkit"]
    draws = load_posterior(CASE_POSTERIOR)
    result = compare(names, replicates=30, seed=4, months=36, workers=2, progress=False,
                     posterior=draws)
    expected = old_runs(names, 30, 4, 36, draws.to_dict("records"))
    pd.testing.assert_frame_equal(result.runs, expected, check_exact=True)
    pd.testing.assert_frame_equal(result.table, summarise(expected, names, 36),
                                  check_exact=True)
    split = variance_split([resolve_scenario(n) for n in names], draws.iloc[:20], 36, 4)
    pd.testing.assert_frame_equal(
        split, old_variance_split(names, draws.to_dict("records"), 36, 4, 20),
        check_exact=True)


@pytest.mark.slow
def test_compare_at_point_values_gives_the_old_runs():
    names = ["baseline", "austerity"]
    result = compare(names, replicates=8, seed=1, months=24, workers=1, progress=False)
    pd.testing.assert_frame_equal(result.runs, old_runs(names, 8, 1, 24, None),
                                  check_exact=True)

"""Scenario files: the shipped examples load, time-varying levers reach every run, and a
bad file is refused in one line with nothing written."""

import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_refused

import sim
from sim.core.registry import PARAMETERS
from sim.core.scenarios import SCENARIOS, load_scenario_file, resolve_scenario
from sim.ui.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "scenarios").glob("*.toml"))


def test_examples_load_and_the_readme_lists_them():
    assert len(EXAMPLES) >= 3
    readme = (ROOT / "scenarios" / "README.md").read_text()
    for path in EXAMPLES:
        scenario = load_scenario_file(path)
        assert scenario.description and scenario.source
        assert f"`{path.name}`" in readme
    waves = load_scenario_file(ROOT / "scenarios" / "case_waves.toml")
    schedule = dict(waves.schedule)
    assert schedule[24] == {"payment_integration": 0.7}
    assert schedule[12]["funding_round_rate"] > SCENARIOS["baseline"].values.get(
        "funding_round_rate", PARAMETERS["funding_round_rate"].default)
    assert schedule[30]["policy_churn_rate"] > PARAMETERS["policy_churn_rate"].default
    # the README's list of levers that may change in time is the model's
    system = {p.name for p in PARAMETERS.values() if p.level == "system" and p.group == "lever"}
    listed = set(re.findall(r"`(\w+)`", readme.split("may change in time are")[1]
                            .split("(see")[0]))
    assert listed == system


@pytest.mark.slow
def test_time_varying_levers_reach_the_runs(tmp_path):
    waves = ROOT / "scenarios" / "case_waves.toml"
    out = tmp_path / "cmp"
    assert main(["compare", "baseline", str(waves), "--replicates", "40", "--quiet",
                 "--point", "--out", str(out)]) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    scenario = load_scenario_file(waves)
    changed = 0
    for _, row in runs[runs.scenario == "case_waves"].iterrows():
        again = sim.run_project("baseline", seed=int(row.seed),
                                schedule=scenario.schedule_list(), **scenario.values)
        assert again["outcome"] == row.outcome
        assert (again["pilot_month"] or -1) == (-1 if pd.isna(row.pilot_month)
                                                else row.pilot_month)
        plain = sim.run_project("baseline", seed=int(row.seed))
        changed += plain["funding_received"] != again["funding_received"]
    assert changed > 0  # the funding wave changed what some runs received
    text = (out / "comparison.md").read_text()
    assert "month 24: payment_integration = 0.7" in text


def test_set_wins_over_the_file_schedule():
    scenario = resolve_scenario(str(ROOT / "scenarios" / "case_waves.toml"),
                                {"payment_integration": 0.2})
    assert scenario.values["payment_integration"] == 0.2
    assert all("payment_integration" not in values for _, values in scenario.schedule)


BAD = {
    "syntax": ("name = ", "is not valid TOML"),
    "unknown_key": ('name="x"\ndescription="d"\nsource="s"\ncolour="red"\n',
                    "unknown key 'colour'"),
    "no_source": ('name="x"\ndescription="d"\n', "'source' must be a non-empty string"),
    "bad_base": ('name="x"\ndescription="d"\nsource="s"\nbase="utopia"\n',
                 "unknown scenario 'utopia'"),
    "bad_lever": ('name="x"\ndescription="d"\nsource="s"\n[levers]\nturnover_rate=5\n',
                  "turnover_rate"),
    "month_zero": ('name="x"\ndescription="d"\nsource="s"\n[[changes]]\nmonth=0\n'
                   'incentives=0.5\n', "month must be a whole number >= 1"),
    "no_month": ('name="x"\ndescription="d"\nsource="s"\n[[changes]]\nincentives=0.5\n',
                 "has no 'month'"),
    "team_lever_in_time": ('name="x"\ndescription="d"\nsource="s"\n[[changes]]\nmonth=3\n'
                           'turnover_rate=0.2\n', "'turnover_rate' cannot vary in time"),
    "same_month": ('name="x"\ndescription="d"\nsource="s"\n[[changes]]\nmonth=3\n'
                   'incentives=0.5\n[[changes]]\nmonth=3\nincentives=0.6\n', "share a month"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_file_is_refused(tmp_path, case):
    text, culprit = BAD[case]
    src = tmp_path.parent / f"{tmp_path.name}_{case}.toml"
    src.write_text(text)
    assert_refused(tmp_path, ["compare", "baseline", str(src), "--replicates", "2",
                              "--out", str(tmp_path / "out")], culprit)
    src.unlink()


@pytest.mark.slow
def test_run_takes_a_scenario_file(tmp_path):
    """Issue 22 item 8: ``icsim run --scenario FILE`` runs the file's values and changes,
    the same run as the model given them by hand."""
    import json

    waves = ROOT / "scenarios" / "case_waves.toml"
    out = tmp_path / "run"
    assert main(["run", "--scenario", str(waves), "--seed", "3", "--months", "40",
                 "--out", str(out), "--set", "turnover_rate=0.2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    scenario = resolve_scenario(str(waves), {"turnover_rate": 0.2})
    again = sim.run_project("baseline", seed=3, months=40, schedule=scenario.schedule_list(),
                            **scenario.values)
    assert summary["scenario"] == "case_waves"
    assert summary["parameters"]["turnover_rate"] == 0.2
    assert summary["parameters"]["payment_integration"] == 0.7  # changed at month 24
    for key in ("outcome", "mean_engagement", "funding_received", "pilot_month"):
        assert summary[key] == again[key]
    frame = pd.read_csv(out / "timeseries.csv")
    assert len(frame) == 41


@pytest.mark.parametrize("case", ["syntax", "bad_lever", "team_lever_in_time"])
def test_bad_scenario_file_is_refused_by_run_and_sweep(tmp_path, case):
    text, culprit = BAD[case]
    src = tmp_path.parent / f"{tmp_path.name}_{case}.toml"
    src.write_text(text)
    exp = tmp_path.parent / f"{tmp_path.name}_{case}_exp.toml"
    exp.write_text(f'name = "x"\nmethod = "lhs"\nsamples = 2\nscenario = "{src}"\n'
                   '[parameters]\nturnover_rate = [0.0, 0.4]\n')
    try:
        assert_refused(tmp_path, ["run", "--scenario", str(src), "--out",
                                  str(tmp_path / "out")], culprit)
        assert_refused(tmp_path, ["sweep", str(exp), "--out", str(tmp_path / "out")],
                       culprit)
    finally:
        src.unlink()
        exp.unlink()


@pytest.mark.slow
def test_a_sweep_runs_over_a_scenario_file_and_refuses_a_changed_one(tmp_path):
    """Issue 22 item 8: an experiment's base scenario may be a file: its values and its
    changes reach every run (a swept lever is taken out of the changes), analyze reads
    the sweep, and a resume after the file changed is refused."""
    from sim.core.errors import UsageError
    from sim.core.registry import resolve
    from sim.experiment.sweep import run_sweep
    from sim.run import run_projects
    from sim.studies.sweep_analysis import load_sweep

    scenario_file = tmp_path / "waves.toml"
    scenario_file.write_text((ROOT / "scenarios" / "case_waves.toml").read_text())
    exp = tmp_path / "exp.toml"
    exp.write_text(f'name = "over_file"\nmethod = "lhs"\nsamples = 3\nreplicates = 2\n'
                   f'months = 36\nseed = 5\nscenario = "{scenario_file}"\n'
                   'outcomes = ["pilot", "mean_engagement"]\n'
                   '[parameters]\nturnover_rate = [0.0, 0.4]\npolicy_churn_rate = [0.1, 0.5]\n')
    report = run_sweep(exp, tmp_path / "sweep", workers=1, progress=False)
    runs = pd.read_parquet(report.out / "runs").sort_values(["point", "replicate"])
    scenario = load_scenario_file(scenario_file)
    # policy_churn_rate is swept: the file's changes of it are taken out
    schedule = [(m, {k: v for k, v in values.items() if k != "policy_churn_rate"})
                for m, values in scenario.schedule]
    schedule = [(m, v) for m, v in schedule if v]
    rows = [resolve({**scenario.values,
                     "turnover_rate": r.turnover_rate,
                     "policy_churn_rate": r.policy_churn_rate})
            for r in runs.itertuples()]
    expected = run_projects(rows, [int(s) for s in runs.seed], 36, schedule=schedule)
    assert list(runs.mean_engagement) == pytest.approx(list(expected.mean_engagement))
    plain = run_projects(rows, [int(s) for s in runs.seed], 36)
    assert list(runs.mean_engagement) != pytest.approx(list(plain.mean_engagement))
    assert len(load_sweep(report.out).runs) == 6  # analyze reads it without the file
    scenario_file.write_text(scenario_file.read_text().replace("0.7", "0.8"))
    with pytest.raises(UsageError, match="the file has changed since"):
        run_sweep(exp, tmp_path / "sweep", workers=1, progress=False, resume=True)


def test_scenarios_are_named_by_their_labels_for_people():
    """Issue 22 item 11: labels for people, with the name or file a command takes."""
    from sim.core.scenarios import described, labelled, readable, resolve_scenario

    assert readable("enabling_national+toolkit") == \
        "Enabling national approach + Full local toolkit"
    assert labelled(" baseline ") == "Flexible national approach (baseline)"
    assert labelled("a_plugin_scenario") == readable("a_plugin_scenario") == "a_plugin_scenario"
    assert described("toolkit") == "Full local toolkit (`toolkit`)"
    assert described("moved_away.toml") == "`moved_away.toml`"  # nothing to read: as it is
    path = str(Path(__file__).resolve().parents[2] / "scenarios" / "case_waves.toml")
    waves = resolve_scenario(path, {"turnover_rate": 0.2})
    words = waves.description.split(":")[0].strip()
    assert waves.label == words and waves.labelled == f"{words} ({path})"
    assert described(path) == f"{words} (`{path}`)"
    assert resolve_scenario("stable_team").labelled == "Stable team (stable_team)"

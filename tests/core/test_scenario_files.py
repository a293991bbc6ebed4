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
                 "--out", str(out)]) == 0
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

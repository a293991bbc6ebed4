"""The command line: outputs, the human summary, and bad input (exit 2, nothing written)."""

import json

import pandas as pd
import pytest
from conftest import assert_refused

import sim
from sim.core.outputs import DAC_KEYS
from sim.ui.cli import main


def test_run_writes_summary_timeseries_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--seed", "7", "--months", "48", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(json.dumps(summary))  # plain JSON, nulls for unreached
    expected = sim.run_project(seed=7, months=48)
    assert summary["outcome"] == expected["outcome"]
    assert summary["seed"] == 7 and summary["months"] == 48
    for key in DAC_KEYS:
        assert f"dac_{key}" in summary and f"mean_dac_{key}" in summary
    assert set(summary["parameters"]) == set(sim.PARAMETERS)
    frame = pd.read_csv(out / "timeseries.csv")
    assert len(frame) == 49
    assert {"month", "progress", "engagement", "events", *(f"dac_{k}" for k in DAC_KEYS)} \
        <= set(frame.columns)
    assert (out / "timeseries.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert summary["outcome"].upper() in printed


def test_set_overrides_reach_the_model(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "--set", "team_size=12", "--set", "small_tasks=true",
                 "--out", str(out)]) == 0
    params = json.loads((out / "summary.json").read_text())["parameters"]
    assert params["team_size"] == 12 and params["small_tasks"] is True


@pytest.mark.parametrize("argv, culprit", [
    (["run", "--set", "warp_speed=1"], "warp_speed"),
    (["run", "--set", "turnover_rate=0.9"], "turnover_rate"),
    (["run", "--set", "team_size=big"], "team_size"),
    (["run", "--set", "small_tasks=maybe"], "small_tasks"),
    (["run", "--set", "noequals"], "NAME=VALUE"),
    (["run", "--months", "0"], "months"),
    (["run", "--months", "ten"], "--months"),
    (["run", "--scenario", "utopia"], "utopia"),
    (["run", "--scenario", "baseline+utopia"], "utopia"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, culprit):
    assert_refused(tmp_path, [*argv, "--out", str(tmp_path / "out")], culprit)


def test_params_table_lists_every_parameter(capsys):
    assert main(["params"]) == 0
    text = capsys.readouterr().out
    for name in sim.PARAMETERS:
        assert name in text
    assert main(["params", "--markdown"]) == 0
    assert "| `turnover_rate` |" in capsys.readouterr().out


def test_scenarios_listed(capsys):
    assert main(["scenarios"]) == 0
    text = capsys.readouterr().out
    for name in sim.SCENARIOS:
        assert name in text


def test_dashboard_port_is_checked(capsys):
    assert main(["dashboard", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


POSTERIOR_SWEEP = """
name = "posterior_round_trip"
method = "lhs"
samples = 8
replicates = 4
seed = 7
months = 36
runs_per_part = 8
outcomes = ["pilot", "time_to_pilot", "mean_engagement"]
[parameters]
turnover_rate = [0.0, 0.4]
reopen = [0.05, 0.3]
"""


@pytest.mark.slow
def test_sweep_with_posterior_analyze_resume_analyze_round_trip(tmp_path, capsys):
    """Issue 22 item 1: a sweep over a posterior is analysed, resumed (with the command
    the refusal prints) and analysed again; a resume without the posterior is refused."""
    import shlex

    from sim.experiment.posterior import CASE_POSTERIOR

    exp = tmp_path / "exp.toml"
    exp.write_text(POSTERIOR_SWEEP)
    out = tmp_path / "sweep"
    sweep = ["sweep", str(exp), "--out", str(out), "--workers", "1", "--quiet"]
    assert main([*sweep, "--posterior", str(CASE_POSTERIOR)]) == 0
    assert main(["analyze", str(out), "--resamples", "50", "--quiet"]) == 0
    summary = (out / "analysis" / "summary.md").read_text()
    assert f"draws of `{CASE_POSTERIOR}`" in summary
    # Issue 22 item 3: the methods table names every varied input as the registry does
    for name, low, high in (("turnover_rate", 0.0, 0.4), ("reopen", 0.05, 0.3)):
        p = sim.PARAMETERS[name]
        assert (f"| `{name}` | {p.display} | {p.group} | {p.unit} | uniform over "
                f"[{low:g}, {high:g}] | {p.source} |") in summary
    first = pd.read_parquet(out / "runs")
    # A part lost: analyze refuses and names the resume command, posterior included.
    (out / "runs" / "part-000002.parquet").unlink()
    capsys.readouterr()
    assert main(["analyze", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "incomplete (24 of 32 runs)" in error
    command = error.split("complete it with: ")[1]
    assert command.endswith(f"--resume --posterior {CASE_POSTERIOR}")
    # Without the posterior the resume is refused, and says how to do it.
    assert main([*sweep, "--resume"]) == 2
    error = capsys.readouterr().err
    assert "asked now without it" in error and f"--posterior {CASE_POSTERIOR}" in error
    # The printed command completes the sweep: the same runs as the first time.
    argv = shlex.split(command)[1:]
    assert main([*argv, "--workers", "1", "--quiet"]) == 0
    assert "resumed 8 runs" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs"), first)
    assert main(["analyze", str(out), "--resamples", "50", "--quiet"]) == 0
    # Another posterior (the draws reversed) is refused too.
    other = tmp_path / "other.parquet"
    pd.read_parquet(CASE_POSTERIOR).iloc[::-1].to_parquet(other)
    assert main([*sweep, "--resume", "--posterior", str(other)]) == 2
    assert "asked now over another" in capsys.readouterr().err

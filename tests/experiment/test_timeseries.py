"""Time series from sweeps: ``[timeseries]`` in experiment files, the time-series parts
written and resumed with their parts, the engines agreeing on them, and ``analyze``'s
indices over time against a model with a known story (``toy_pilot``: P(pilot by month 12)
depends on ``early`` alone, ``late`` matters only from month 30 on, ``dud`` never)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.core.errors import UsageError
from sim.core.outputs import SERIES_OUTCOMES
from sim.experiment.spec import parse_experiment
from sim.experiment.sweep import run_sweep

TOY_TS = """
name = "toy_ts"
model = "sim.experiment.examples:toy_pilot"
method = "sobol"
samples = 16
replicates = 4
seed = 3
outcomes = ["pilot", "pilot_month"]
runs_per_part = 24
[parameters]
early = [0.0, 0.5]
late = [0.0, 0.9]
dud = [0.0, 1.0]
[timeseries]
outcomes = ["piloted"]
every = 6
months = [6, 60]
"""

PROJECT = """
name = "project_ts"
method = "lhs"
samples = 4
replicates = 2
months = 24
outcomes = ["pilot"]
[parameters]
turnover_rate = [0.0, 0.4]
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def files(out: Path) -> dict[str, bytes]:
    return {f"{d}/{p.name}": p.read_bytes() for d in ("runs", "timeseries")
            for p in sorted((out / d).iterdir())}


# ------------------------------------------------------------------------------- parsing


def test_timeseries_defaults_months_and_round_trip() -> None:
    plain = parse_experiment(PROJECT)
    assert plain.timeseries is None
    every_month = parse_experiment(PROJECT + '[timeseries]\noutcomes = ["pilot"]\n')
    assert every_month.timeseries is not None
    assert every_month.timeseries.months == tuple(range(1, 25))  # every = 1, to the horizon
    six = parse_experiment(PROJECT + '[timeseries]\noutcomes = ["pilot", '
                           '"dac_team_commitment"]\nevery = 6\n')
    assert six.timeseries is not None and six.timeseries.months == (6, 12, 18, 24)
    window = parse_experiment(PROJECT + '[timeseries]\noutcomes = ["host_changes"]\n'
                              'every = 5\nmonths = [3, 20]\n')
    assert window.timeseries is not None and window.timeseries.months == (3, 8, 13, 18)
    # The series are part of the experiment: another series is another sweep ...
    assert len({plain.sha256, every_month.sha256, six.sha256, window.sha256}) == 4
    # ... and the canonical text a manifest records parses back to the same experiment.
    again = parse_experiment(six.to_toml())
    assert again.sha256 == six.sha256 and again.timeseries == six.timeseries


def test_every_monthly_outcome_of_the_project_model_is_accepted() -> None:
    text = PROJECT + f"[timeseries]\noutcomes = {json.dumps(list(SERIES_OUTCOMES))}\n"
    exp = parse_experiment(text)
    assert exp.timeseries is not None and exp.timeseries.outcomes == SERIES_OUTCOMES


@pytest.mark.parametrize(("table", "culprit"), [
    ('outcomes = ["pilot"]\nwindow = [1, 2]', "unknown key 'window' in [timeseries]"),
    ('outcomes = ["mean_engagement"]', "unknown monthly outcome 'mean_engagement'"),
    ('outcomes = ["pilot"]\nevery = 25', "'every' must be a whole number of months in [1, 24]"),
    ('outcomes = ["pilot"]\nmonths = [1, 25]', "'months' must be [first, last]"),
])
def test_bad_timeseries_is_refused_in_one_line(table: str, culprit: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_experiment(PROJECT + "[timeseries]\n" + table + "\n")
    assert culprit in str(caught.value) and "\n" not in str(caught.value)


# ------------------------------------------------------------------------ runner and store


def test_series_parts_are_long_month_by_month_and_agree_with_the_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run_sweep(write(tmp_path, TOY_TS), out, workers=2, progress=False)
    assert report.complete and report.runs_total == 320
    assert sorted(p.name for p in (out / "timeseries").iterdir()) == sorted(
        p.name for p in (out / "runs").iterdir())
    first = pq.ParquetFile(out / "timeseries" / "part-000000.parquet")
    assert first.schema_arrow.names == ["point", "replicate", "month", "piloted"]
    assert first.metadata.num_row_groups == 10  # one row group a month: a month reads alone
    ts = pd.read_parquet(out / "timeseries")
    assert len(ts) == 320 * 10
    assert list(ts["month"].iloc[:24]) == [6] * 24  # month by month within a part
    runs = pd.read_parquet(out / "runs")
    wide = ts.pivot_table(index=["point", "replicate"], columns="month", values="piloted")
    runs = runs.set_index(["point", "replicate"]).loc[wide.index]
    # The series is the scalar story month by month: 1 from the pilot month on.
    for month in range(6, 61, 6):
        expected = (runs["pilot_month"].fillna(np.inf) <= month).astype(float)
        assert (wide[month] == expected).all(), month
    assert (wide[60] == runs["pilot"]).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["timeseries"]["months"] == list(range(6, 61, 6))
    # analyze's reader: a month at a time or a block of months, aligned with the runs
    from sim.studies.sweep_analysis import load_sweep, stored_series

    sweep = load_sweep(out)
    one, block = stored_series(sweep, block_bytes=1), stored_series(sweep)
    ordered = (runs["pilot_month"].reset_index().sort_values(["point", "replicate"])
               ["pilot_month"].fillna(np.inf).to_numpy())
    for month in (60, 6, 30, 36):  # out of order: blocks are read again
        assert np.array_equal(one(month)["piloted"], block(month)["piloted"])
        assert np.array_equal(block(month)["piloted"], (ordered <= month).astype(float))
    with pytest.raises(UsageError, match="month 7 is not recorded"):
        block(7)
    assert all("timeseries_sha256" in entry for entry in manifest["parts"].values())


@pytest.mark.slow
def test_a_missing_or_damaged_series_part_is_rerun_on_resume(tmp_path: Path, capfd) -> None:
    exp = write(tmp_path, TOY_TS)
    out = tmp_path / "out"
    run_sweep(exp, out, workers=1, progress=False)
    reference = files(out)
    (out / "timeseries" / "part-000002.parquet").unlink()  # missing
    with open(out / "timeseries" / "part-000005.parquet", "ab") as fh:  # changed
        fh.write(b"x")
    (out / "runs" / "part-000007.parquet").unlink()  # its series part left behind alone
    capfd.readouterr()
    report = run_sweep(exp, out, workers=2, progress=False, resume=True)
    err = capfd.readouterr().err
    assert "part-000002.parquet: its time-series part timeseries/part-000002.parquet is " \
           "missing" in err
    assert "part-000005.parquet: checksum mismatch in its time-series part" in err
    assert report.complete and report.runs_this_session == 3 * 24
    assert files(out) == reference  # rerun, the same bytes
    aside = sorted(p.name for p in (out / "discarded").iterdir())
    assert len(aside) == 3 and sum("timeseries-part-000005" in n for n in aside) == 1


def test_a_stray_file_in_timeseries_is_refused(tmp_path: Path) -> None:
    exp = write(tmp_path, TOY_TS)
    out = tmp_path / "out"
    run_sweep(exp, out, workers=1, progress=False)
    (out / "timeseries" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="notes.txt is not a part of this sweep"):
        run_sweep(exp, out, workers=1, progress=False, resume=True)


def test_a_plugin_whose_series_is_too_short_fails_its_runs_only(tmp_path: Path) -> None:
    text = TOY_TS.replace("months = [6, 60]", "months = [6, 66]")
    report = run_sweep(write(tmp_path, text), tmp_path / "out", workers=1, progress=False)
    assert report.complete and report.runs_failed == 320
    runs = pd.read_parquet(tmp_path / "out" / "runs")
    assert runs["error"].str.contains("time series 'piloted' has 60 values; month 66").all()
    assert pd.read_parquet(tmp_path / "out" / "timeseries")["piloted"].isna().all()


# ------------------------------------------------------------------ analysis over time

TOY_ANALYSIS = """
name = "toy_over_time"
model = "sim.experiment.examples:toy_pilot"
method = "{method}"
samples = {samples}
replicates = {replicates}
seed = 5
outcomes = ["pilot", "pilot_month"]
runs_per_part = 2048
[parameters]
early = [0.0, 0.6]
late = [0.0, 1.0]
dud = [0.0, 1.0]
[timeseries]
outcomes = ["piloted"]
every = 6
months = [6, 60]
"""


def _analysed(tmp_path: Path, method: str, samples: int, replicates: int) -> Path:
    from sim.report.analysis import analyze

    text = TOY_ANALYSIS.format(method=method, samples=samples, replicates=replicates)
    out = tmp_path / method
    run_sweep(write(tmp_path, text, f"{method}.toml"), out, workers=2, progress=False)
    analyze(out, resamples=50)
    return out / "analysis"


@pytest.mark.slow
def test_sobol_indices_over_time_tell_early_from_late_levers(tmp_path: Path) -> None:
    analysis = _analysed(tmp_path, "sobol", 128, 10)
    table = pd.read_csv(analysis / "indices_over_time.csv")
    assert list(table.columns) == ["outcome", "month", "parameter", "S1", "S1_conf", "ST",
                                   "ST_conf", "mean", "noise_in_means"]
    assert sorted(table["month"].unique()) == list(range(6, 61, 6))
    st = table.pivot(index="month", columns="parameter", values="ST")
    # By month 12 only `early` can matter; by month 60 `late` dominates.
    assert st.loc[12, "early"] > st.loc[12, "late"] + 0.3
    assert st.loc[60, "late"] > st.loc[60, "early"] + 0.3
    assert st.loc[60, "late"] > st.loc[12, "late"] + 0.3
    # Nothing happens in months 13-29: the indices there are month 12's.
    assert st.loc[18].equals(st.loc[12]) and st.loc[24].equals(st.loc[12])
    # P(pilot by month m) from the stored pilot month is one case of the same machinery:
    # the recorded series gives it number for number.
    by_month = pd.read_csv(analysis / "sobol_pilot_by_month.csv")
    same = table.drop(columns="outcome").rename(columns={"mean": "p_pilot"})
    pd.testing.assert_frame_equal(same, by_month)
    assert (analysis / "indices_over_time_piloted.png").stat().st_size > 0
    summary = (analysis / "summary.md").read_text()
    assert "## Over time: the levers behind each monthly outcome" in summary
    assert "### piloted at month m" in summary


@pytest.mark.slow
def test_morris_indices_over_time_give_the_known_elementary_effects(tmp_path: Path) -> None:
    analysis = _analysed(tmp_path, "morris", 20, 40)
    table = pd.read_csv(analysis / "indices_over_time.csv")
    assert {"mu_star", "mu_star_conf", "sigma"} <= set(table.columns)
    mu = table.pivot(index="month", columns="parameter", values="mu_star")
    # P(pilot by 12) = early, over a range of 0.6: every elementary effect of early is 0.6
    # (in SALib's normalised units); late and dud have none, only noise.
    assert mu.loc[12, "early"] == pytest.approx(0.6, abs=0.1)
    assert mu.loc[12, "early"] > max(mu.loc[12, "late"], mu.loc[12, "dud"]) + 0.3
    # P(pilot by 60) = early + (1 - early) late: late's effect is 1 - early in [0.4, 1].
    assert mu.loc[60, "late"] > mu.loc[60, "early"] + 0.25
    assert mu.loc[60, "late"] > mu.loc[12, "late"] + 0.3
    assert mu.loc[18].equals(mu.loc[12])
    assert "### piloted at month m" in (analysis / "summary.md").read_text()


def test_a_part_in_another_layout_is_read_by_its_row_group_statistics(tmp_path: Path) -> None:
    import pyarrow as pa

    from sim.studies.sweep_analysis import _months_of_part

    table = pa.table({"point": np.tile(np.arange(4), 3), "replicate": np.zeros(12, int),
                      "month": np.repeat([2, 4, 6], 4), "y": np.arange(12.0)})
    for groups in (12, 5, 4):  # one row group; groups across months; a group a month
        path = tmp_path / f"part-{groups}.parquet"
        pq.write_table(table, path, row_group_size=groups)
        got = _months_of_part(path, [4, 6], 1, ["month", "y"])
        assert got.column("y").to_pylist() == list(np.arange(4.0, 12.0))
        assert _months_of_part(path, [2], 0, ["y"]).column("y").to_pylist() == [0, 1, 2, 3]

"""Analysis of sweeps: known Sobol and Morris answers, noise, time-varying indices, PRIM,
failures, the EMA Workbench pair."""

from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.core.errors import UsageError
from sim.experiment.examples import ISHIGAMI_S1, ISHIGAMI_ST
from sim.experiment.sweep import run_sweep
from sim.report.analysis import analyze
from sim.studies.sweep_analysis import load_ema, load_sweep, stochastic_variance

PI = math.pi


def sweep(tmp_path: Path, text: str, name: str = "s", workers: int = 2) -> Path:
    exp = tmp_path / f"{name}.toml"
    exp.write_text(textwrap.dedent(text))
    out = tmp_path / name
    run_sweep(exp, out, workers=workers, progress=False)
    return out


ISHIGAMI = f"""
name = "ishigami"
model = "sim.experiment.examples:ishigami"
method = "sobol"
samples = 2048
replicates = 2
seed = 3
outcomes = ["y"]
runs_per_part = 8192
[parameters]
x1 = [{-PI!r}, {PI!r}]
x2 = [{-PI!r}, {PI!r}]
x3 = [{-PI!r}, {PI!r}]
"""


@pytest.mark.slow
def test_sobol_recovers_the_analytic_ishigami_indices(tmp_path: Path) -> None:
    out = sweep(tmp_path, ISHIGAMI)
    analyze(out, resamples=200)
    table = pd.read_csv(out / "analysis" / "sobol_y.csv")
    assert list(table.columns) == ["parameter", "S1", "S1_conf", "ST", "ST_conf"]
    table = table.set_index("parameter")
    for name in ("x1", "x2", "x3"):
        assert table.loc[name, "S1"] == pytest.approx(ISHIGAMI_S1[name], abs=0.05)
        assert table.loc[name, "ST"] == pytest.approx(ISHIGAMI_ST[name], abs=0.05)
        assert 0 < table.loc[name, "ST_conf"] < 0.15
    noise = pd.read_csv(out / "analysis" / "stochastic_variance.csv").iloc[0]
    assert noise["stochastic_share"] == 0  # deterministic: no replicate noise
    summary = (out / "analysis" / "summary.md").read_text()
    assert "What drives y" in summary and "`x2`" in summary
    assert (out / "analysis" / "sobol_y.png").stat().st_size > 0


@pytest.mark.slow
def test_morris_and_the_stochastic_share_of_a_noisy_linear_model(tmp_path: Path) -> None:
    out = sweep(tmp_path, """
    name = "linear"
    model = "sim.experiment.examples:noisy_linear"
    method = "morris"
    samples = 30
    replicates = 6
    seed = 5
    outcomes = ["y"]
    [parameters]
    x1 = [0.0, 1.0]
    x2 = [0.0, 1.0]
    dud = [0.0, 1.0]
    """)
    analyze(out, resamples=200)
    table = pd.read_csv(out / "analysis" / "morris_y.csv")
    assert list(table.columns[:4]) == ["parameter", "mu_star", "mu_star_conf", "sigma"]
    mu = table.set_index("parameter")["mu_star"]
    # y = x1 + 2 x2 + noise: elementary effects 1 and 2; the dud's is noise only.
    assert mu["x1"] == pytest.approx(1.0, abs=0.25)
    assert mu["x2"] == pytest.approx(2.0, abs=0.25)
    assert mu["dud"] < 0.5
    # Noise variance 0.25 within points; the levers' share depends on the Morris levels.
    noise = stochastic_variance(load_sweep(out), load_sweep(out).runs["y"])
    assert noise["within_variance"] == pytest.approx(0.25, rel=0.2)
    assert 0 < noise["stochastic_share"] < 1
    assert noise["noise_in_means"] < noise["stochastic_share"]


TOY = """
name = "toy"
model = "sim.experiment.examples:toy_pilot"
method = "sobol"
samples = 256
replicates = 20
seed = 5
outcomes = ["pilot", "time_to_pilot"]
runs_per_part = 8192
[parameters]
early = [0.0, 0.6]
late = [0.0, 1.0]
dud = [0.0, 1.0]
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 20 replicates a point, not 40: the tests' margins (ST by month, PRIM's density) stay
    # wide (0.75 > 0.4, 0.53 > 0.3, 0.61 > 0.3, 0.33 > 0.2), and PRIM peels half the runs.
    out = sweep(tmp_path_factory.mktemp("toy"), TOY)
    # 50 bootstrap resamples, not 200: the tests read point estimates (SALib computes them
    # from all runs, whatever the resamples), PRIM boxes and headings; no interval.
    analyze(out, resamples=50)
    return out


@pytest.mark.slow
def test_pilot_by_month_shows_early_and_late_levers(toy: Path) -> None:
    table = pd.read_csv(toy / "analysis" / "sobol_pilot_by_month.csv")
    assert sorted(table["month"].unique()) == list(range(6, 61, 6))
    st = table.pivot(index="month", columns="parameter", values="ST")
    # By month 12 only `early` can matter; by month 60 `late` dominates.
    assert st.loc[12, "early"] > st.loc[12, "late"] + 0.4
    assert st.loc[60, "late"] > st.loc[60, "early"] + 0.3
    assert st.loc[60, "late"] > st.loc[12, "late"] + 0.3
    # P(pilot by m) grows with m and the month-60 value equals P(pilot).
    p = table.groupby("month")["p_pilot"].first()
    assert p.is_monotonic_increasing
    runs = load_sweep(toy).runs
    assert p[60] == pytest.approx(runs["pilot"].mean())
    assert (toy / "analysis" / "sobol_pilot_by_month.png").exists()


@pytest.mark.slow
def test_prim_finds_where_the_toy_project_stalls(toy: Path) -> None:
    stats = pd.read_csv(toy / "analysis" / "prim_stall_boxes.csv")
    limits = pd.read_csv(toy / "analysis" / "prim_stall_limits.csv")
    assert {"coverage", "density", "mass", "res_dim"} <= set(stats.columns)
    base = 1 - load_sweep(toy).runs["pilot"].mean()
    first = stats.iloc[0]
    assert first["density"] > base + 0.2 and first["coverage"] > 0.2
    box1 = limits[limits["box"] == 1].set_index("parameter")
    # Stalls need both levers low: box 1 caps both, and leaves the dud alone.
    assert set(box1.index) == {"early", "late"}
    assert (box1["high"] < box1["range_high"]).all()
    summary = (toy / "analysis" / "summary.md").read_text()
    assert "Where projects stall" in summary and "Box 1" in summary


@pytest.mark.slow
def test_prim_on_a_large_sweep_runs_on_a_seeded_sample(toy: Path, monkeypatch) -> None:
    """Above PRIM_MAX_RUNS runs PRIM sees a seeded random sample (its memory grows with the
    runs), says so, and still finds the toy's stalling corner."""
    from sim.studies import sweep_analysis

    runs = load_sweep(toy).runs
    cap = len(runs) // 2
    monkeypatch.setattr(sweep_analysis, "PRIM_MAX_RUNS", cap)
    seen = []
    real = sweep_analysis.prim_boxes
    monkeypatch.setattr(sweep_analysis, "prim_boxes",
                        lambda x, y: seen.append((len(x), x.index[:5].tolist())) or real(x, y))
    sweep = load_sweep(toy)
    first = sweep_analysis._prim(sweep, None, 0.5, False)
    again = sweep_analysis._prim(sweep, None, 0.5, False)
    assert first is not None and first.sampled == (cap, len(runs))
    assert seen[0] == seen[1] and seen[0][0] == cap  # the same sample twice
    assert first.found is not None
    box1 = first.found.boxes[first.found.boxes["box"] == 1].set_index("parameter")
    assert set(box1.index) == {"early", "late"}
    assert again is not None and again.found is not None
    from sim.report.analysis import _Summary

    md = _Summary(sweep)
    md.prim(first.found, None, first.sampled)
    assert f"random sample of {cap:,} of the {len(runs):,} runs" in "\n".join(md.body)


@pytest.mark.slow
def test_summary_reads_as_a_report(toy: Path) -> None:
    summary = (toy / "analysis" / "summary.md").read_text()
    for heading in ("# toy: what the sweep says", "## What drives P(pilot)",
                    "## How much is chance", "## Early and late levers"):
        assert heading in summary
    assert "Failed runs**: none of 25,600" in summary
    assert "nan" not in summary.lower().replace("nano", "")


def test_failed_runs_are_counted_not_hidden(tmp_path: Path) -> None:
    out = sweep(tmp_path, """
    name = "flaky"
    model = "sim.experiment.examples:fails_sometimes"
    method = "sobol"
    samples = 256
    replicates = 4
    seed = 2
    outcomes = ["y"]
    runs_per_part = 2048
    [parameters]
    x1 = [0.0, 1.0]
    x2 = [0.0, 1.0]
    [constants]
    fail_rate = 0.1
    """)
    result = analyze(out, resamples=100)
    runs = load_sweep(out).runs
    n_failed = int((runs["status"] == "failed").sum())
    assert n_failed > 0
    failed = pd.read_csv(out / "analysis" / "failed_runs.csv")
    assert len(failed) == n_failed and failed["error"].str.contains("unlucky seed").all()
    # analyze reads no run's inputs: a failed run's are its point's in the design, the
    # values the parts hold
    assert "x1" not in runs.columns
    stored = load_sweep(out, inputs=True).runs
    stored = stored[stored["status"] != "ok"]
    assert list(failed.columns) == ["point", "replicate", "seed", "x1", "x2", "status", "error"]
    assert failed[["x1", "x2"]].to_numpy() == pytest.approx(stored[["x1", "x2"]].to_numpy(),
                                                             rel=1e-5)  # %.6g
    summary = (out / "analysis" / "summary.md").read_text()
    assert f"**Failed runs**: {n_failed:,} of {len(runs):,}" in summary
    # Every point kept a successful replicate, so the indices exist: y = x1 exactly.
    table = pd.read_csv(out / "analysis" / "sobol_y.csv").set_index("parameter")
    assert table.loc["x1", "ST"] == pytest.approx(1.0, abs=0.05)
    assert table.loc["x2", "ST"] == pytest.approx(0.0, abs=0.05)
    assert not result.notes or all("pilot" in n for n in result.notes)


def test_an_outcome_without_indices_is_explained(tmp_path: Path) -> None:
    out = sweep(tmp_path, """
    name = "dead"
    model = "sim.experiment.examples:always_fails"
    method = "sobol"
    samples = 8
    outcomes = ["y"]
    [parameters]
    x1 = [0.0, 1.0]
    """, workers=1)
    result = analyze(out, resamples=50)
    assert not (out / "analysis" / "sobol_y.csv").exists()
    assert any("no successful run" in note for note in result.notes)
    summary = (out / "analysis" / "summary.md").read_text()
    assert "No indices: 24 design points have no successful run" in summary
    assert "**Failed runs**: 24 of 24" in summary


@pytest.mark.slow
def test_load_ema_feeds_the_workbench(toy: Path) -> None:
    experiments, outcomes = load_ema(toy)
    assert len(experiments) == 5 * 256 * 20
    assert list(experiments.columns) == ["early", "late", "dud", "scenario", "policy", "model"]
    assert set(outcomes) == {"pilot", "time_to_pilot"}
    assert all(v.shape == (len(experiments),) for v in outcomes.values())
    assert experiments["scenario"].is_unique
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim
    x = experiments.drop(columns=["scenario", "policy", "model"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Workbench's own pandas deprecations
        box = prim.Prim(x, outcomes["pilot"] < 0.5, mass_min=0.05).find_box()
    assert box.density > 0.5


def test_load_ema_warns_about_failed_runs(tmp_path: Path) -> None:
    out = sweep(tmp_path, """
    name = "flaky"
    model = "sim.experiment.examples:fails_sometimes"
    method = "lhs"
    samples = 50
    replicates = 2
    outcomes = ["y"]
    [parameters]
    x1 = [0.0, 1.0]
    """, workers=1)
    n_failed = int((load_sweep(out).runs["status"] == "failed").sum())
    with pytest.warns(UserWarning, match=f"{n_failed} failed runs of 100 left out"):
        experiments, outcomes = load_ema(out)
    assert len(experiments) == 100 - n_failed and not np.isnan(outcomes["y"]).any()
    everything, with_nan = load_ema(out, include_failed=True)
    assert len(everything) == 100 and int(np.isnan(with_nan["y"]).sum()) == n_failed


@pytest.mark.slow
def test_grid_analysis_writes_tables(tmp_path: Path) -> None:
    out = sweep(tmp_path, """
    name = "grid"
    model = "sim.experiment.examples:toy_pilot"
    method = "grid"
    replicates = 20
    outcomes = ["pilot", "time_to_pilot"]
    [parameters]
    early = { values = [0.0, 0.5] }
    late = { values = [0.0, 1.0] }
    dud = { values = [0.0] }
    """, workers=1)
    analyze(out, resamples=50)
    grid = pd.read_csv(out / "analysis" / "grid_pilot.csv")
    assert len(grid) == 4
    # early = late = 0 never pilots; late = 1 always does.
    assert grid.query("early == 0 and late == 0")["mean_pilot"].item() == 0
    assert (grid.query("late == 1")["mean_pilot"] == 1).all()
    assert "## The grid, lever by lever" in (out / "analysis" / "summary.md").read_text()


def test_analysis_refuses_an_incomplete_sweep(tmp_path: Path) -> None:
    out = sweep(tmp_path, ISHIGAMI.replace("samples = 2048", "samples = 64").replace(
        "runs_per_part = 8192", "runs_per_part = 50"), workers=1)
    sorted((out / "runs").glob("part-*.parquet"))[-1].unlink()
    with pytest.raises(UsageError, match="incomplete"):
        analyze(out)
    assert not (out / "analysis").exists()


def test_second_order_indices_where_sampled(tmp_path: Path) -> None:
    text = ISHIGAMI.replace("samples = 2048", "samples = 256").replace(
        'method = "sobol"', 'method = "sobol"\nsecond_order = true')
    out = sweep(tmp_path, text)
    analyze(out, resamples=100)
    pairs = pd.read_csv(out / "analysis" / "sobol_y_S2.csv")
    assert list(pairs.columns) == ["parameter_1", "parameter_2", "S2", "S2_conf"]
    assert len(pairs) == 3
    # The Ishigami function's one interaction is x1 with x3 (S13 = 0.244).
    top = pairs.sort_values("S2", ascending=False).iloc[0]
    assert (top.parameter_1, top.parameter_2) == ("x1", "x3")


# ------------------------------------------------ summaries that do not over-claim
def test_sums_reported_as_computed_and_zero_indices_named(tmp_path: Path) -> None:
    out = sweep(tmp_path, ISHIGAMI.replace("samples = 2048", "samples = 512"))
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        analyze(out, resamples=100)
    assert not [w for w in leaked if "SALib" in str(w.filename)]  # captured, not leaked
    table = pd.read_csv(out / "analysis" / "sobol_y.csv")
    summary = (out / "analysis" / "summary.md").read_text()
    s1, st = table.S1.sum(), table.ST.sum()
    assert st > 1.1  # Ishigami: x1 and x3 interact
    assert f"(S1) sum to {s1:.2f} and the total indices (ST) to {st:.2f}" in summary
    assert "add up to 100%" not in summary
    x3 = table.set_index("parameter").loc["x3"]
    assert x3.S1 - x3.S1_conf <= 0  # x3 acts only with x1
    assert "S1 indistinguishable from 0" in summary and "`x3`" in summary
    assert "alone 0%" not in summary


def test_unconverged_indices_are_flagged_with_a_sample_size(tmp_path: Path) -> None:
    out = sweep(tmp_path, ISHIGAMI.replace("samples = 2048", "samples = 16")
                .replace("replicates = 2", "replicates = 1"), workers=1)
    analyze(out, resamples=50)
    summary = (out / "analysis" / "summary.md").read_text()
    line = next(x for x in summary.splitlines() if "have not converged" in x)
    suggested = int(line.split("`samples = ")[1].split("`")[0])
    assert suggested >= 32 and suggested & (suggested - 1) == 0  # at least twice, power of 2


def test_half_and_full_samples_agree_on_a_large_sweep(tmp_path: Path) -> None:
    from sim.analysis.indices import convergence
    from sim.studies.sweep_analysis import replicate_means

    out = sweep(tmp_path, ISHIGAMI.replace("replicates = 2", "replicates = 1"))
    s = load_sweep(out)
    y, _ = replicate_means(s, s.runs["y"])
    check = convergence(s.design, y, resamples=50)
    assert check["half"] == 1024 and check["samples"] == 2048
    assert check["max_change"] < 0.1 and check["ranking_changed"] is False


def test_no_trend_is_reported_inside_the_intervals() -> None:
    from types import SimpleNamespace

    from sim.report.analysis import _Summary

    def table(late_a: float, conf: float) -> pd.DataFrame:
        rows = []
        for month, a in ((6, 0.30), (12, late_a)):
            for name, st in (("a", a), ("b", 0.2)):
                rows.append({"month": month, "parameter": name, "S1": st, "S1_conf": conf,
                             "ST": st, "ST_conf": conf, "p_pilot": 0.5,
                             "noise_in_means": 0.05})
        return pd.DataFrame(rows)

    quiet = SimpleNamespace(body=[])
    _Summary.by_month(quiet, table(0.35, 0.10), [])
    text = "\n".join(quiet.body)
    assert "gaining most weight" not in text and "no trend can be told from noise" in text
    loud = SimpleNamespace(body=[])
    _Summary.by_month(loud, table(0.70, 0.05), [])
    assert "Gaining most weight over time: `a` (0.30 -> 0.70)" in "\n".join(loud.body)


@pytest.mark.slow
def test_lhs_gets_a_moment_independent_measure(tmp_path: Path, monkeypatch) -> None:
    from SALib.analyze import delta

    # SALib's delta costs about 21 s of CPU with the 100 bootstrap resamples icsim asks
    # for, 2 s with 10. The test reads the point estimates' ranking and the report, not
    # the intervals; the ranking x2 > x1 > dud holds with 10 resamples (10 of 10 LHS seeds
    # tried), so a mix-up of the levers' columns still fails it.
    real = delta.analyze
    monkeypatch.setattr(delta, "analyze", lambda *args, **kwargs: real(
        *args, **{**kwargs, "num_resamples": 10}))
    out = sweep(tmp_path, """
    name = "lhs"
    model = "sim.experiment.examples:noisy_linear"
    method = "lhs"
    samples = 400
    replicates = 2
    seed = 5
    outcomes = ["y"]
    [parameters]
    x1 = [0.0, 1.0]
    x2 = [0.0, 1.0]
    dud = [0.0, 1.0]
    """, workers=1)
    analyze(out, resamples=50)
    delta = pd.read_csv(out / "analysis" / "delta_y.csv").set_index("parameter")
    assert delta.loc["x2", "delta"] > delta.loc["x1", "delta"] > delta.loc["dud", "delta"]
    summary = (out / "analysis" / "summary.md").read_text()
    assert "moment-independent delta" in summary


def test_library_warnings_are_captured() -> None:
    from sim.analysis.indices import captured_warnings as _captured

    seen: list[str] = []
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        assert _captured(lambda: warnings.warn("convergence is poor", stacklevel=1) or 3, seen) == 3
        _captured(lambda: warnings.warn("convergence is poor", stacklevel=1), seen)
    assert leaked == [] and seen == ["UserWarning: convergence is poor"]


@pytest.mark.slow
def test_prim_outcome_threshold_and_figure_formats(tmp_path: Path) -> None:
    from conftest import icsim

    from sim.ui.cli import main

    out = sweep(tmp_path, TOY.replace("samples = 256", "samples = 32")
                .replace("replicates = 40", "replicates = 4"), workers=1)
    assert main(["analyze", str(out), "--resamples", "20", "--quiet", "--format", "png,svg",
                 "--prim-outcome", "pilot", "--prim-threshold", "0.5", "--prim-above"]) == 0
    summary = (out / "analysis" / "summary.md").read_text()
    assert "Cases of interest: runs with P(pilot) above 0.5" in summary
    assert (out / "analysis" / "prim_stall_tradeoff.svg").exists()
    assert (out / "analysis" / "sobol_pilot.svg").exists()
    proc = icsim("analyze", str(out), "--prim-outcome", "nonsense")
    assert proc.returncode == 2 and "unknown outcome 'nonsense'" in proc.stderr


def test_the_methods_table_gives_each_inputs_distribution_with_its_parameters():
    from sim.experiment.spec import Lever
    from sim.report.analysis import _range_text

    assert _range_text(Lever("x", "float", 0.0, 0.4)) == "uniform over [0, 0.4]"
    assert _range_text(Lever("n", "int", 8, 30)) == "uniform over whole numbers [8, 30]"
    assert _range_text(Lever("f", "values", values=("product", "mean"))) == \
        "one of `product`, `mean` (equally likely)"
    assert _range_text(Lever("t", "float", 0.0, 1.0, dist="triangular",
                             dist_params=(0.0, 0.2, 1.0))) == \
        "triangular (low 0, mode 0.2, high 1), within [0, 1]"


def _morris_design(trajectories: int = 64):
    from sim.experiment.design import make_design
    from sim.experiment.spec import parse_experiment

    return make_design(parse_experiment(
        'model = "sim.experiment.examples:ishigami"\nmethod = "morris"\n'
        f'samples = {trajectories}\nseed = 1\noutcomes = ["y"]\n'
        '[parameters]\nx1 = [0, 1]\nx2 = [0, 1]\nx3 = [0, 1]\nx4 = [0, 1]\n'))


def test_tied_levers_may_swap_but_separated_ones_may_not() -> None:
    from sim.analysis.indices import convergence, rank_ranges, tie_groups

    design = _morris_design()
    x = design.x
    # x1 and x2 act alike (tied), x3 less, x4 not at all: the tie is named, not ordered
    y = 5 * x[:, 0] + 5 * x[:, 1] + 1 * x[:, 2] + 0.01 * np.sin(40 * x[:, 0] * x[:, 1])
    check = convergence(design, y, resamples=100)
    assert check["tied"] == [["x1", "x2"]] or check["tied"] == [["x2", "x1"]]
    assert check["ranking_changed"] is False and check["converged"] is True
    # the second half of the trajectories turns the order round: x1 is clearly first in
    # the first half, x2 clearly first over all of them -- an order the data tell changed
    half = (design.n_points // 5 // 2) * 5
    y = np.where(np.arange(len(x)) < half, 4 * x[:, 0] + 1 * x[:, 1],
                 0.5 * x[:, 0] + 12 * x[:, 1]) + x[:, 2]
    check = convergence(design, y, resamples=100)
    assert check["tied"] == [] and check["ranking_changed"] is True
    assert check["converged"] is False
    # groups within the top; the ranks each interval allows
    values, confs = np.array([1.0, 0.5, 0.49, 0.48, 0.1]), np.full(5, 0.02)
    assert tie_groups(values, confs, 4) == [[0], [1, 2, 3]]
    assert tie_groups(values, confs, 2) == [[0], [1]]
    assert rank_ranges(values, confs) == [(1, 1), (2, 4), (2, 4), (2, 4), (5, 5)]
    # a chain of overlaps is not one tie: 0.5 and 0.44 are apart, though each overlaps 0.47
    values = np.array([0.5, 0.47, 0.44])
    assert rank_ranges(values, confs[:3]) == [(1, 2), (1, 3), (2, 3)]


def test_the_summary_states_no_order_between_tied_levers() -> None:
    from sim.report.analysis import TIED, _in_order

    table = pd.DataFrame({"parameter": ["a", "b", "c", "d"],
                          "mu_star": [0.2, 1.0, 0.91, 0.9],
                          "mu_star_conf": [0.01, 0.02, 0.02, 0.02]})
    assert _in_order(table, "mu_star", 3, lambda row: row.parameter) == \
        f"b; then c and d ({TIED})"
    assert _in_order(table, "mu_star", 2, lambda row: row.parameter) == \
        "b; then c (the last cannot be told from the next lever down, `d`)"
    assert _in_order(table, "mu_star", 4, lambda row: row.parameter) == \
        f"b; then c and d ({TIED}); then a"
    separated = table.assign(mu_star_conf=0.001)
    assert _in_order(separated, "mu_star", 3, lambda row: row.parameter) == "b; then c; then d"

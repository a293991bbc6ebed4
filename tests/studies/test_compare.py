"""icsim compare: common random numbers, outputs, intervals, determinism, bad input."""

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_refused

import sim
from sim.analysis.stats import (
    kaplan_meier,
    paired_differences,
    pilot_survival,
    replicates_needed,
    wilson,
)
from sim.core.scenarios import labelled, readable
from sim.studies.compare import compare
from sim.ui.cli import main

COLUMNS = ["scenario", "runs", "p_pilot", "p_pilot_lo", "p_pilot_hi", "p_commissioned",
           "p_commissioned_lo", "p_commissioned_hi", "p_integrated",
           "p_integrated_lo", "p_integrated_hi", "p_stalled", "p_collapsed",
           "km_median_pilot_month", "km_median_lo", "km_median_hi",
           "median_pilot_month_if_piloted"]


@pytest.mark.slow
def test_compare_writes_report_and_uses_common_random_numbers(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", "baseline", "enabling_national+toolkit", "stable_team",
                 "--replicates", "30", "--workers", "2", "--seed", "5", "--point",
                 "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "comparison.csv")
    assert list(table.columns[:len(COLUMNS)]) == COLUMNS
    assert list(table.scenario) == ["baseline", "enabling_national+toolkit", "stable_team"]
    assert (table.runs == 30).all()
    assert ((table.p_pilot_lo <= table.p_pilot) & (table.p_pilot <= table.p_pilot_hi)).all()
    for level in ("system", "organisation", "team"):
        assert f"dac_{level}_commitment" in table.columns
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 90
    seeds = runs.pivot(index="replicate", columns="scenario", values="seed")
    assert (seeds.nunique(axis=1) == 1).all()  # replicate i: same seed in every scenario
    row = runs[(runs.scenario == "stable_team") & (runs.replicate == 3)].iloc[0]
    assert sim.run_project("stable_team", seed=int(row.seed))["outcome"] == row.outcome
    text = (out / "comparison.md").read_text()
    assert "stable_team" in text and "95% CI" in text
    for name in ("outcomes.png", "dac_trajectories.png", "time_to_pilot.png"):
        assert (out / name).stat().st_size > 10_000


@pytest.mark.slow
def test_results_do_not_depend_on_worker_count():
    one = compare(["baseline", "austerity"], replicates=12, seed=3, workers=1, progress=False)
    two = compare(["baseline", "austerity"], replicates=12, seed=3, workers=2, progress=False)
    pd.testing.assert_frame_equal(one.runs, two.runs)
    pd.testing.assert_frame_equal(one.table, two.table)
    for key in one.bands["baseline"]:
        np.testing.assert_array_equal(one.bands["baseline"][key], two.bands["baseline"][key])


def test_wilson_and_survival():
    low, high = wilson(0, 400)
    assert low == 0 and 0.005 < high < 0.01
    low, high = wilson(200, 400)
    assert low == pytest.approx(0.451, abs=0.002) and high == pytest.approx(0.549, abs=0.002)
    months, surviving = pilot_survival(pd.Series([10.0, 20.0, np.nan, np.nan]), 60)
    assert surviving[0] == 1.0 and surviving[-1] == pytest.approx(0.5)
    assert months[-1] == 60


@pytest.mark.parametrize("argv, culprit", [
    (["compare", "baseline", "utopia"], "known scenarios: baseline"),
    (["compare", "baseline", "--replicates", "0"], "--replicates"),
    (["compare", "baseline", "--months", "0"], "months"),
    (["compare", "baseline", "baseline"], "twice"),
    (["compare", "baseline", "--set", "turnover_rate=2"], "turnover_rate"),
    (["compare", "baseline", "--set", "nonsense=1"], "unknown parameter 'nonsense'"),
    (["compare", "baseline", "--format", "png,gif"], "unknown figure format 'gif'"),
    (["compare", "baseline", "missing.toml"], "scenario file not found: missing.toml"),
])
def test_compare_bad_input(tmp_path, argv, culprit):
    assert_refused(tmp_path, [*argv, "--out", str(tmp_path / "out")], culprit)


@pytest.mark.slow
def test_both_engines_give_the_same_comparison_and_bands():
    fast = compare(["baseline", "austerity+toolkit"], replicates=40, seed=3, months=36,
                   workers=1, progress=False, engine="fast")
    mesa = compare(["baseline", "austerity+toolkit"], replicates=40, seed=3, months=36,
                   workers=2, progress=False, engine="mesa")
    pd.testing.assert_frame_equal(fast.runs, mesa.runs)
    pd.testing.assert_frame_equal(fast.table, mesa.table)
    for scenario, bands in fast.bands.items():
        for key, band in bands.items():
            np.testing.assert_array_equal(band, mesa.bands[scenario][key])
            assert band.shape == (3, 37) and (band[0] <= band[1]).all() \
                and (band[1] <= band[2]).all()
    # the bands are the runs' quantiles to within one histogram bin
    from sim.engine.fast import HIST_BINS
    frames = [sim.timeseries_frame(sim.simulate("baseline", seed=int(s), months=36))
              for s in fast.runs.loc[fast.runs.scenario == "baseline", "seed"]]
    values = np.stack([f["dac_team_commitment"].to_numpy() for f in frames])
    exact = np.quantile(values, 0.5, axis=0, method="inverted_cdf")
    assert np.abs(fast.bands["baseline"]["team_commitment"][1] - exact).max() \
        <= 1 / HIST_BINS + 1e-12


# ------------------------------------------------------------------ one source for every number
def _table_rows(text: str, heading: str) -> dict[str, dict[str, str]]:
    """The Markdown table under ``heading`` as {scenario: {column: cell}}."""
    block = text.split(heading, 1)[1].strip().splitlines()
    header = [c.strip() for c in block[0].strip("|").split("|")]
    rows = {}
    for line in block[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def _name(shown: str) -> str:
    """The scenario's name in a report's "Label (name)"."""
    return shown.rsplit(" (", 1)[1].removesuffix(")")


SENTENCE = re.compile(
    r"^- \*\*(?P<name>[^*]+)\*\* reaches a pilot within (?P<months>\d+) months in "
    r"(?P<p>\d+%) of runs \(95% CI (?P<ci>\d+%-\d+%)\); (?P<when>.*?); full integration in "
    r"(?P<integ>\d+%), stalled in (?P<stalled>\d+%), collapsed in (?P<collapsed>\d+%)\.$")


@pytest.mark.slow
def test_every_sentence_of_comparison_md_matches_its_table(tmp_path, capsys):
    out = tmp_path / "cmp"
    # SVG figures: this test reads the report, not the figures (PNG at 200 dpi costs more)
    assert main(["compare", "baseline", "enabling_national", "austerity", "toolkit",
                 "--replicates", "120", "--seed", "0", "--format", "svg", "--out",
                 str(out)]) == 0
    console = capsys.readouterr().out
    text = (out / "comparison.md").read_text()
    # the outcomes, and the time to pilot and the levels in a second table (one table of
    # fourteen columns was cut off on a page); each scenario by its label and name
    table = _table_rows(text, "## Outcomes")
    timing = _table_rows(text, "### Time to pilot, and the levels at the horizon")
    assert list(table) == list(timing) == [
        "Flexible national approach (baseline)", "Enabling national approach "
        "(enabling_national)", "Austerity (austerity)", "Full local toolkit (toolkit)"]
    assert max(len(row) for row in (*table.values(), *timing.values())) <= 8
    table = {k: {**row, **timing[k]} for k, row in table.items()}
    csv = pd.read_csv(out / "comparison.csv").set_index("scenario")
    sentences = [line for line in text.splitlines() if line.startswith("- **")
                 and "reaches a pilot" in line]
    assert len(sentences) == 4
    for line in sentences:
        m = SENTENCE.match(line)
        assert m, line
        row, name = table[m["name"]], _name(m["name"])
        assert m["p"] == row["P(pilot)"] and m["ci"] == row["P(pilot) 95% CI"]
        assert m["integ"] == row["P(integrated)"]
        assert m["stalled"] == row["stalled"] and m["collapsed"] == row["collapsed"]
        km = row["median months to pilot (KM)"]
        if km == "not reached":
            assert "median time to pilot is not reached" in m["when"]
            assert csv.loc[name, "p_pilot"] < 0.5
        else:
            assert f"median time to pilot {km} months" in m["when"]
            assert f"95% CI {row['KM 95% CI']}" in m["when"]
            assert float(km) == csv.loc[name, "km_median_pilot_month"]
        if row["median pilot month if piloted"] != "-":
            assert f"median of month {row['median pilot month if piloted']}" in m["when"]
        # the table's cells are the CSV's numbers rounded once
        assert row["P(pilot)"] == f"{round(100 * csv.loc[name, 'p_pilot'])}%"
        # ... and the console prints the same strings
        console_line = next(c for c in console.splitlines()
                            if c.strip().startswith(m["name"]))
        for cell in (row["P(pilot)"], row["P(pilot) 95% CI"], row["stalled"], km.split()[0]):
            assert cell in console_line
    # the austerity median is not reached: fewer than half its runs pilot
    assert table["Austerity (austerity)"]["median months to pilot (KM)"] == "not reached"
    diffs = _table_rows(text, "## Paired differences from Flexible national approach "
                              "(baseline)")
    assert list(diffs) == [labelled(n) for n in ("enabling_national", "austerity", "toolkit")]
    for shown_name, row in diffs.items():
        name = _name(shown_name)
        shown = row["ΔP(pilot) [95% CI]"]
        assert shown.startswith(f"{round(100 * csv.loc[name, 'd_p_pilot']):+.0f} pp")
        resolved = csv.loc[name, "d_p_pilot_lo"] > 0 or csv.loc[name, "d_p_pilot_hi"] < 0
        verdict = "P(pilot) distinguishable" if resolved else "P(pilot) not distinguishable"
        assert f"- **{shown_name}**: {verdict} from Flexible national approach (baseline)'s " \
            f"at 120 paired replicates (ΔP(pilot) {shown})." in text
    # the replicates a difference would need: given only while one is not yet resolved
    unresolved = ~((csv.d_p_pilot_lo > 0) | (csv.d_p_pilot_hi < 0)) & csv.d_p_pilot.notna()
    assert ("paired replicates to be resolved" in text) == bool(unresolved.any())


def test_kaplan_meier_median_and_band():
    # 10 runs: pilots at months 5, 10, 10, 20, 30, five without a pilot by month 60
    km = kaplan_meier(pd.Series([5, 10, 10, 20, 30] + [np.nan] * 5, dtype=float), 60)
    assert km.median()[0] == 30  # S(30) = 0.5: the first month at or below one half
    assert math.isnan(km.median()[2])  # the upper band never reaches one half
    assert km.at_risk(0) == 10 and km.at_risk(11) == 7 and km.at_risk(60) == 5
    assert (km.lower <= km.surviving + 1e-12).all() and (km.surviving <= km.upper + 1e-12).all()
    none = kaplan_meier(pd.Series([np.nan] * 4), 60)
    assert math.isnan(none.median()[0])


def test_paired_differences_use_the_pairs():
    # crafted runs: scenario b pilots in exactly the replicates where a does, plus two more
    n = 50
    a = ["pilot" if i % 2 else "stalled" for i in range(n)]
    b = ["pilot" if i % 2 or i in (0, 2) else "stalled" for i in range(n)]
    runs = pd.DataFrame({
        "scenario": ["a"] * n + ["b"] * n, "replicate": list(range(n)) * 2,
        "outcome": a + b,
        "pilot_month": [20.0 if o == "pilot" else np.nan for o in a + b]})
    d = paired_differences(runs, ["a", "b"], 60).iloc[0]
    assert d.d_p_pilot == pytest.approx(2 / n)
    # paired: the differences are 0 or 1, sd = sqrt(2/50 * 48/49); an unpaired interval
    # would be about five times wider
    assert d.d_p_pilot_sd == pytest.approx(np.std([1, 1] + [0] * 48, ddof=1))
    assert d.d_p_pilot_hi - d.d_p_pilot_lo < 0.12
    assert d.d_p_pilot_replicates_needed == replicates_needed(2 / n, d.d_p_pilot_sd)
    assert replicates_needed(0.0, 0.3) != replicates_needed(0.0, 0.3)  # NaN: nothing to find
    assert replicates_needed(0.1, 0.4) == 126  # ((1.96 + 0.8416) * 0.4 / 0.1) ** 2 = 125.6


@pytest.mark.slow
def test_set_applies_to_every_scenario(tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "baseline", "toolkit", "--set", "turnover_rate=0.3", "--point",
                 "--replicates", "8", "--quiet", "--format", "svg", "--out", str(out)]) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    for scenario in ("baseline", "toolkit"):
        row = runs[(runs.scenario == scenario) & (runs.replicate == 2)].iloc[0]
        again = sim.run_project(scenario, seed=int(row.seed), turnover_rate=0.3)
        assert again["outcome"] == row.outcome
        assert again["turnover_events"] == row.turnover_events
    assert "`turnover_rate = 0.3`" in (out / "comparison.md").read_text()


@pytest.mark.slow
def test_figure_formats(tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "baseline", "--replicates", "5", "--quiet",
                 "--format", "png,svg,pdf", "--out", str(out)]) == 0
    for stem in ("outcomes", "dac_trajectories", "time_to_pilot"):
        assert (out / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (out / f"{stem}.svg").read_bytes()[:500]
        assert (out / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"


@pytest.mark.slow
def test_figures_show_bands_numbers_at_risk_and_one_panel_per_scenario():
    from sim.report import figures as plots

    result = compare(["baseline", "austerity", "toolkit"], replicates=40, seed=1,
                     progress=False)
    fig = plots.time_to_pilot_figure(result.curves, result.months)
    curves_ax, table_ax = fig.axes
    assert len(curves_ax.collections) == 3  # one 95% band per scenario
    shown = {t.get_text() for t in table_ax.texts}
    for name, km in result.curves.items():
        assert readable(name) in shown  # by label: "Full local toolkit", not "toolkit"
        assert str(km.at_risk(30)) in shown and str(km.at_risk(60)) in shown
    fig = plots.dac_trajectories_figure(result.bands)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["Flexible national approach", "Austerity", "Full local toolkit"]
    assert len(fig.axes) == 9  # 3 levels x 3 scenarios


@pytest.mark.slow
def test_a_posterior_gives_replicate_i_draw_i_in_every_scenario(tmp_path):
    from sim.experiment.posterior import CASE_POSTERIOR, load_posterior

    draws = load_posterior(CASE_POSTERIOR)
    result = compare(["baseline", "stable_team"], replicates=12, seed=2, months=48,
                     workers=1, progress=False, posterior=draws)
    for scenario, extra in (("baseline", {}), ("stable_team", {"turnover_rate": 0.04,
                                                               "host_change_rate": 0.2,
                                                               "manager_turnover": 0.1})):
        for replicate in (0, 5, 11):
            row = result.runs[(result.runs.scenario == scenario)
                              & (result.runs.replicate == replicate)].iloc[0]
            values = {**draws.iloc[replicate].to_dict(), **extra}  # the scenario wins
            values = {k: (int(v) if k in ("planned_months", "recognition_lag") else v)
                      for k, v in values.items()}
            again = sim.run_project("baseline", seed=int(row.seed), months=48, **values)
            assert again["outcome"] == row.outcome
            assert again["mean_engagement"] == pytest.approx(row.mean_engagement)
    split = result.variance
    assert set(split.scenario) == {"baseline", "stable_team"}
    # a share where the outcome varies at all; undefined (NaN) where no run differs,
    # e.g. integration, which takes longer than four years under both scenarios
    varies = split.variance > 0
    assert split.parametric_share[varies].between(0, 1).all()
    assert split.parametric_share[~varies].isna().all()
    total = split.stochastic_share[varies] + split.parametric_share[varies]
    assert np.allclose(total, 1.0)  # the law of total variance
    # the case posterior carries structural choices: their part is within the parametric
    assert (split.structural_share[varies] <= split.parametric_share[varies] + 1e-12).all()
    assert (split.structural_share[varies] >= 0).all()
    from sim.report.compare import markdown
    text = markdown(result)
    assert "uses draw *i* of the posterior" in text
    assert "What the intervals carry: luck, parameters, model form" in text
    row = split[varies].iloc[0]
    from sim.core.registry import PARAMETERS
    form = PARAMETERS[row.largest_structural].display  # by label, with the name
    assert (f"| {labelled(row.scenario)} | P({row.outcome}) | {row.variance:.3f} | "
            f"{row.stochastic_share:.0%} | {row.parametric_share:.0%} | "
            f"{row.structural_share:.0%} | {form} (`{row.largest_structural}`)") in text


def _expected_run(values, seed, months):
    from sim.run import run_projects

    return run_projects([values], [seed], months).iloc[0]


@pytest.mark.slow
def test_compare_runs_under_the_case_posterior_unless_point(tmp_path):
    """Issue 20 item 5: the shipped case posterior is the default (replicate i takes draw
    i); --point runs at the registry's values; the report says what its intervals hold."""
    from sim.core.registry import resolve
    from sim.core.scenarios import resolve_scenario
    from sim.experiment.posterior import CASE_POSTERIOR, load_posterior

    argv = ["compare", "baseline", "toolkit", "--replicates", "6", "--months", "24",
            "--workers", "1", "--quiet", "--format", "svg"]
    assert main([*argv, "--out", str(tmp_path / "post")]) == 0
    assert main([*argv, "--point", "--out", str(tmp_path / "point")]) == 0
    draws = load_posterior(CASE_POSTERIOR).to_dict("records")
    toolkit = resolve_scenario("toolkit").values
    for name, values in (("post", resolve({**draws[4], **toolkit})),
                         ("point", resolve(toolkit))):
        runs = pd.read_parquet(tmp_path / name / "runs.parquet")
        row = runs[(runs.scenario == "toolkit") & (runs.replicate == 4)].iloc[0]
        expected = _expected_run(values, int(row.seed), 24)
        assert row.mean_engagement == pytest.approx(expected.mean_engagement)
    post = (tmp_path / "post" / "comparison.md").read_text()
    assert "run-to-run noise and parametric uncertainty" in post
    assert CASE_POSTERIOR.name in post and f"of {len(draws)} draws" in post
    # the case posterior carries the structural choices too, and the report names them
    assert "structural choices" in post and "`pilot_scope`" in post
    point = (tmp_path / "point" / "comparison.md").read_text()
    assert "run-to-run noise only" in point and "parametric uncertainty" not in point


@pytest.mark.slow
def test_a_posterior_with_structural_choices_is_used_and_named(tmp_path):
    """A posterior holding every registry entry, choice-valued structural parameters
    included (as the regenerated case posterior will), loads and reaches the runs."""
    from sim.core.registry import PARAMETERS, defaults, resolve
    from sim.experiment.posterior import CASE_POSTERIOR

    frame = pd.read_parquet(CASE_POSTERIOR).head(8).drop(
        columns=["pilot_scope", "enablers_form"], errors="ignore")
    full = {name: [value] * len(frame) for name, value in defaults().items()
            if name not in frame.columns}
    choices = PARAMETERS["pilot_scope"].choices
    full["pilot_scope"] = [choices[i % len(choices)] for i in range(len(frame))]
    full["enablers_form"] = ["mean" if i % 2 else "product" for i in range(len(frame))]
    frame = pd.concat([frame, pd.DataFrame(full)], axis=1)
    path = tmp_path / "full.parquet"
    frame.to_parquet(path)
    out = tmp_path / "cmp"
    assert main(["compare", "baseline", "--replicates", "8", "--months", "24", "--workers",
                 "1", "--quiet", "--format", "svg", "--posterior", str(path), "--out",
                 str(out)]) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    for i in (1, 2):  # different structural choices
        row = runs[runs.replicate == i].iloc[0]
        values = resolve({k: v for k, v in frame.iloc[i].to_dict().items()})
        assert values["pilot_scope"] == choices[i % len(choices)]
        expected = _expected_run(values, int(row.seed), 24)
        assert row.mean_engagement == pytest.approx(expected.mean_engagement)
    text = (out / "comparison.md").read_text()
    assert "`pilot_scope`" in text and "`enablers_form`" in text and "are drawn too" in text


@pytest.mark.slow
def test_reference_and_every_pair_with_bonferroni_intervals(tmp_path):
    """Issue 22 item 7: --reference picks the scenario the others are compared with, and
    every pair is compared with intervals adjusted for the number of pairs."""
    from scipy import stats as st

    out = tmp_path / "cmp"
    assert main(["compare", "baseline", "enabling_national", "toolkit", "--replicates", "40",
                 "--months", "36", "--workers", "1", "--quiet", "--point", "--reference",
                 "toolkit", "--format", "svg", "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv").set_index("scenario")
    assert np.isnan(table.loc["toolkit", "d_p_pilot"])  # the reference
    runs = pd.read_parquet(out / "runs.parquet")
    piloted = {s: runs[runs.scenario == s].sort_values("replicate").outcome
               .isin(["pilot", "integrated"]).to_numpy(float)
               for s in ("baseline", "enabling_national", "toolkit")}
    d = piloted["baseline"] - piloted["toolkit"]
    assert table.loc["baseline", "d_p_pilot"] == pytest.approx(d.mean())
    pairs = pd.read_csv(out / "pairs.csv")
    assert len(pairs) == 3 and (pairs.comparisons == 3).all()
    assert (pairs.adjustment == "Bonferroni").all()
    row = pairs[(pairs["first"] == "baseline") & (pairs.second == "enabling_national")].iloc[0]
    d = piloted["enabling_national"] - piloted["baseline"]
    half = st.t.ppf(1 - 0.05 / 3 / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    assert row.difference == pytest.approx(d.mean())
    assert (row.lo, row.hi) == pytest.approx((d.mean() - half, d.mean() + half))
    assert row.resolved == (row.lo > 0 or row.hi < 0)
    text = (out / "comparison.md").read_text()
    assert "compared with **Full local toolkit (toolkit)** (the reference)" in text
    assert "adjusted for 3 comparisons" in text and "Bonferroni" in text
    verdict = "yes" if row.resolved else "no: cannot tell them apart"
    assert f"| Enabling national approach (enabling_national) − Flexible national approach " \
           f"(baseline) | {100 * row.difference:+.1f} pp | " \
           f"[{100 * row.lo:+.1f} pp, {100 * row.hi:+.1f} pp] | {verdict} |" in text


def test_a_bad_reference_is_refused(tmp_path):
    assert_refused(tmp_path, ["compare", "baseline", "toolkit", "--reference", "austerity",
                              "--out", str(tmp_path / "out")], "austerity")


def test_no_replicate_count_beside_a_resolved_difference():
    """Issue 22 item 9: the replicates a difference would need are given only for a
    difference not yet resolved."""
    from sim.report.compare import _distinguishable

    d = pd.DataFrame({"scenario": ["a", "b"], "pairs": [400, 400],
                      "d_p_pilot": [0.04, 0.20], "d_p_pilot_lo": [0.01, 0.15],
                      "d_p_pilot_hi": [0.08, 0.25], "d_p_pilot_sd": [0.37, 0.4],
                      "d_p_pilot_replicates_needed": [517.0, 40.0]})
    shown = pd.DataFrame({"scenario": ["a", "b"], "x": ["+4 pp", "+20 pp"]})
    lines = _distinguishable(d, shown, "base")
    assert not any("would need" in line for line in lines)
    d.loc[0, "d_p_pilot_lo"] = -0.01  # now a is not resolved
    lines = _distinguishable(d, shown, "base")
    assert any("not yet resolved, +4 pp (**a**), would need about 517" in line
               for line in lines)


def test_a_difference_that_disagrees_with_the_rounded_shares_is_explained():
    """Issue 22 item 9: '8% vs 0%' beside '+7 pp' says why."""
    from sim.report.compare import _rounding_note

    table = pd.DataFrame({"scenario": ["base", "x"], "p_pilot": [0.5, 0.6],
                          "p_integrated": [0.004, 0.075]})
    d = pd.DataFrame({"scenario": ["x"], "d_p_pilot": [0.1], "d_p_integrated": [0.071]})
    note = _rounding_note(table, d, "base")
    assert note and "P(integrated) 8% against base's 0% (7.5% against 0.4%) is +7 pp" in \
        note[0]
    table.loc[0, "p_integrated"] = 0.0
    assert _rounding_note(table, d.assign(d_p_integrated=0.075), "base") == []


def test_time_to_pilot_rises_in_every_view_with_one_label():
    """Issue 22 item 12: the CLI's figure, like the dashboard's, shows the share WITH a
    pilot by each month (1 - Kaplan-Meier), rising, under one label; whole-month ticks."""
    from sim.analysis.stats import kaplan_meier
    from sim.report import figures as plots
    from sim.ui.dashboard_views import many_runs_figure

    months = pd.Series([5.0, 10.0, 10.0, 20.0, 30.0, np.nan, np.nan, np.nan, np.nan, np.nan])
    km = kaplan_meier(months, 60)
    fig = plots.time_to_pilot_figure({"a": km}, 60)
    ax, table_ax = fig.axes
    line = ax.get_lines()[0]
    assert list(line.get_ydata()) == pytest.approx(list(1 - np.asarray(km.surviving)))
    assert np.all(np.diff(line.get_ydata()) >= 0) and line.get_ydata()[-1] == 0.5
    assert ax.get_ylabel() == plots.TIME_TO_PILOT_LABEL
    ticks = [t.get_text() for t in table_ax.get_xticklabels()]
    assert ticks and all(t.isdigit() for t in ticks)
    runs = pd.DataFrame({"outcome": ["pilot"] * 5 + ["stalled"] * 5, "pilot_month": months})
    dash = many_runs_figure(runs, 60, "t")
    assert dash.axes[1].get_ylabel() == plots.TIME_TO_PILOT_LABEL.replace("projects", "runs")


@pytest.mark.slow
def test_reports_and_figures_name_scenarios_by_their_labels():
    """Issue 22 item 11: a person reads labels, with the name or file a command takes in
    brackets ("Flexible national approach (baseline)"); figures show the labels alone."""
    from sim.report import figures as plots
    from sim.report.compare import compact_table, console_table, markdown

    path = str(Path(__file__).resolve().parents[2] / "scenarios" / "enabling_no_money.toml")
    result = compare(["baseline", "toolkit+stable_team", path], replicates=4,
                     seed=0, months=24, workers=1, progress=False)
    shown = ["Flexible national approach (baseline)",
             "Full local toolkit + Stable team (toolkit+stable_team)",
             f"Enabling national approach without programme money ({path})"]
    text = markdown(result)
    for label in shown:
        assert f"| {label} |" in text and f"- **{label}** reaches a pilot" in text
    assert "compared with **Flexible national approach (baseline)** (the reference)" in text
    assert "- **Full local toolkit + Stable team** (`toolkit+stable_team`): " in text
    assert f"- **Enabling national approach without programme money** (file `{path}`): " \
        in text
    assert not re.search(r"^\| (baseline|toolkit\+stable_team|enabling_no_money) \|", text,
                         re.MULTILINE)
    console = console_table(result)
    assert all(label in console for label in shown)
    compact = compact_table(result)
    assert [f"{a} ({b})" for a, b in zip(compact.scenario, compact.name, strict=True)] == shown
    assert len(compact.columns) == 7 and compact.scenario.str.len().max() <= 50
    assert compact["P(pilot) [95% CI]"].str.fullmatch(r"\d+% \[\d+%-\d+%\]").all()
    labels = {s.name: s.label for s in result.scenarios}
    fig = plots.outcome_shares_figure(result.table, labels)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == ["Flexible national approach", "Full local toolkit + Stable team",
                     "Enabling national approach\nwithout programme money"]
    fig = plots.time_to_pilot_figure(result.curves, result.months, labels)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[:2] == ["Flexible national approach", "Full local toolkit + Stable team"]


def test_the_dac_figure_wraps_past_four_scenarios():
    """Issue 22 item 13: seven scenarios in two blocks of rows (four and three columns), each
    block with its month ticks, so the figure stays readable at 1024 px."""
    from sim.report import figures as plots

    names = ["baseline", "enabling_national", "funded_vanguard", "prescriptive_national",
             "austerity", "toolkit", "enabling_national+toolkit"]
    band = np.tile(np.linspace(0, 1, 61), (3, 1))
    bands = {n: {f"{level}_{o}": band for level in ("system", "organisation", "team")
                 for o in ("direction", "alignment", "commitment")} for n in names}
    fig = plots.dac_trajectories_figure(bands)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 6 * 4 and len(shown) == 3 * 7
    titles = [ax.get_title() for ax in shown if ax.get_title()]
    assert titles == [plots.scenario_names([n])[0] for n in names]
    assert titles[-1] == "Enabling national approach +\nFull local toolkit"
    assert fig.get_size_inches()[0] <= 13  # four columns, not seven
    fig.canvas.draw()
    with_months = [ax for ax in shown if ax.get_xlabel() == "Month"]
    assert len(with_months) == 7  # the bottom row of each block, one per scenario
    for ax in with_months:
        assert any(t.get_text() for t in ax.get_xticklabels() if t.get_visible())
    few = plots.dac_trajectories_figure({n: bands[n] for n in names[:3]})
    assert len(few.axes) == 9  # up to four scenarios: one block, as before

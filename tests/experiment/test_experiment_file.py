"""Experiment files: validation errors name the culprit, nothing is written on bad input."""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_refused

from sim.core.errors import UsageError
from sim.core.registry import PARAMETERS, principal
from sim.experiment.design import make_design
from sim.experiment.spec import load_experiment, parse_experiment
from sim.ui.commands import add_parsers

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = """
name = "t"
model = "sim.experiment.examples:noisy_linear"
method = "lhs"
samples = 8
outcomes = ["y"]
[parameters]
x1 = [0.0, 1.0]
"""

PROJECT = """
name = "p"
method = "grid"
replicates = 2
months = 12
outcomes = ["pilot"]
[parameters]
regulatory_alignment = { values = [0.1, 0.9] }
"""


def parse(text: str, **kwargs) -> object:
    return parse_experiment(textwrap.dedent(text), source="exp.toml", **kwargs)


def test_a_valid_plugin_file_parses_with_defaults() -> None:
    exp = parse(PLUGIN)
    assert exp.method == "lhs" and exp.samples == 8 and exp.replicates == 1
    assert exp.seed == 0 and exp.outcomes == ("y",)
    assert exp.levers[0].kind == "float"


@pytest.mark.parametrize(("edit", "message"), [
    (("method = \"lhs\"", "method = \"lhs\"\nsample = 3"), "unknown key 'sample'; allowed keys"),
    (("method = \"lhs\"", "method = \"fast\""),
     "method must be one of sobol, morris, lhs, grid; got 'fast'"),
    (("samples = 8", "samples = 0"), "'samples' must be a whole number >= 1"),
    (("samples = 8", "samples = 2.5"), "'samples' must be a whole number"),
    (("outcomes = [\"y\"]\n", ""), "'outcomes' is required for a plug-in model"),
    (("outcomes = [\"y\"]", "outcomes = [\"y\"]\nmonths = 12"),
     "'months' applies to the project's model only"),
    (("outcomes = [\"y\"]", "outcomes = [\"y\"]\nscenario = \"toolkit\""),
     "'scenario' applies to the project's model only"),
    (("x1 = [0.0, 1.0]", "x1 = [1.0, 0.0]"), "parameter 'x1': low must be below high"),
    (("x1 = [0.0, 1.0]", "x1 = [0.0]"), "parameter 'x1' must be [low, high]"),
    (("x1 = [0.0, 1.0]", "x1 = { values = [1, \"a\"] }"), "values must be all numbers"),
    (("x1 = [0.0, 1.0]", "x1 = { values = [1, 1] }"), "value 1 is listed twice"),
    (("model = \"sim.experiment.examples:noisy_linear\"", "model = \"no colon\""),
     "model must be 'icsim'"),
    (("model = \"sim.experiment.examples:noisy_linear\"",
      "model = \"sim.experiment.examples:nothing\""),
     "has no function 'nothing'"),
    (("model = \"sim.experiment.examples:noisy_linear\"", "model = \"no_such_module:f\""),
     "model 'no_such_module:f' is plug-in code"),
    (("outcomes = [\"y\"]", "outcomes = [\"y\", \"x1\"]"), "clashes with a column"),
    (("x1 = [0.0, 1.0]", "replicate = [0.0, 1.0]"),
     "parameter name 'replicate' clashes with a column of the results"),
    (("method = \"lhs\"", "method = \"lhs\"\nsecond_order = true"),
     "'second_order' applies to method = \"sobol\" only"),
])
def test_plugin_file_errors(edit: tuple[str, str], message: str) -> None:
    text = PLUGIN.replace(*edit)
    assert text != PLUGIN
    with pytest.raises(UsageError) as info:
        parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith("exp.toml: ")
    assert "\n" not in str(info.value)


def test_sobol_samples_must_be_a_power_of_two() -> None:
    text = PLUGIN.replace('method = "lhs"', 'method = "sobol"').replace("samples = 8",
                                                                         "samples = 100")
    with pytest.raises(UsageError, match="power of 2"):
        parse(text)


def test_grid_rejects_samples() -> None:
    with pytest.raises(UsageError, match="'samples' does not apply"):
        parse(PROJECT.replace("replicates = 2", "replicates = 2\nsamples = 4"))


def test_not_toml() -> None:
    with pytest.raises(UsageError, match="not valid TOML"):
        parse("name = ")


@pytest.mark.parametrize(("edit", "message"), [
    (("regulatory_alignment = { values = [0.1, 0.9] }", "no_such_lever = [0.0, 1.0]"),
     "unknown parameter 'no_such_lever'; known parameters: national_narrative"),
    (("regulatory_alignment = { values = [0.1, 0.9] }", "regulatory_alignment = [0.0, 1.5]"),
     "bounds [0.0, 1.5] lie outside the registry's [0, 1]"),
    (("regulatory_alignment = { values = [0.1, 0.9] }",
      "regulatory_alignment = { values = [0.1, 2.0] }"),
     "parameter 'regulatory_alignment' must be a number in [0, 1], got 2.0"),
    (("regulatory_alignment = { values = [0.1, 0.9] }", "small_tasks = [0, 1]"),
     "parameter 'small_tasks' is a switch"),
    (("regulatory_alignment = { values = [0.1, 0.9] }", "team_size = [6.5, 20]"),
     "takes whole numbers"),
    (("outcomes = [\"pilot\"]", "outcomes = [\"pilot\", \"happiness\"]"),
     "unknown outcome 'happiness'; outcomes of the project's model: pilot"),
    (("months = 12", "months = 12\nscenario = \"utopia\""),
     "unknown scenario 'utopia'; known scenarios: baseline"),
    (("months = 12", "months = 0"), "'months' must be a whole number >= 1"),
    (("[parameters]", "[constants]\nteam_size = 99\n[parameters]"),
     "parameter 'team_size' must be an integer in [6, 40], got 99"),
    (("[parameters]", "[constants]\nregulatory_alignment = 0.5\n[parameters]"),
     "is both swept in [parameters] and fixed in [constants]"),
])
def test_project_model_file_errors(edit: tuple[str, str], message: str) -> None:
    text = PROJECT.replace(*edit)
    assert text != PROJECT
    with pytest.raises(UsageError) as info:
        parse(text)
    assert message in str(info.value)


def test_project_outcomes_include_summary_fields() -> None:
    exp = parse(PROJECT.replace('outcomes = ["pilot"]',
                                'outcomes = ["pilot", "mean_engagement", "turnover_events"]'))
    assert exp.outcomes == ("pilot", "mean_engagement", "turnover_events")


def test_composed_scenario_is_accepted() -> None:
    exp = parse(PROJECT.replace("months = 12",
                                'months = 12\nscenario = "enabling_national+toolkit"'))
    assert exp.scenario == "enabling_national+toolkit"


def test_shipped_experiment_files() -> None:
    sobol = load_experiment(ROOT / "experiments" / "sobol_pilot.toml")
    assert sobol.method == "sobol" and {"pilot", "time_to_pilot"} <= set(sobol.outcomes)
    assert set(sobol.names) == {p.name for p in principal()}
    assert {PARAMETERS[n].level for n in sobol.names} == {"system", "organisation", "team"}
    morris = load_experiment(ROOT / "experiments" / "morris_screening.toml")
    assert morris.method == "morris"
    assert set(morris.names) == {p.name for p in PARAMETERS.values()
                                 if p.group == "lever" and p.level != "scenario"}
    grid = load_experiment(ROOT / "experiments" / "national_approach_grid.toml")
    assert grid.method == "grid"
    assert set(grid.names) == {"regulatory_alignment", "payment_integration", "incentives",
                               "funding_award_prob"}
    design = make_design(grid)
    assert design.n_points == 81
    assert len({tuple(design.x[i]) for i in range(design.n_points)}) == 81


def test_designs_respect_bounds_and_kinds() -> None:
    exp = load_experiment(ROOT / "experiments" / "morris_screening.toml")
    # the file's levers and bounds at 512 trajectories: its 8,192 take 7 CPU-s to lay out
    design = make_design(dataclasses.replace(exp, samples=512))
    columns = design.point_columns
    for name, col in columns.items():
        p = PARAMETERS[name]
        if p.kind == "bool":
            assert col.dtype == bool and set(col.tolist()) == {False, True}
        else:
            assert col.min() >= p.low and col.max() <= p.high, name
        if p.kind == "int":
            assert col.dtype.kind == "i"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icsim")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser


def test_sweep_command_writes_nothing_on_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(PLUGIN.replace('method = "lhs"', 'method = "bogus"'))
    out = tmp_path / "out"
    args = _parser().parse_args(["sweep", str(bad), "--out", str(out), "--workers", "1"])
    with pytest.raises(UsageError, match="method must be one of"):
        args.handler(args)
    assert not out.exists()
    missing = _parser().parse_args(["sweep", str(tmp_path / "nope.toml"), "--out", str(out)])
    with pytest.raises(UsageError, match="experiment file not found"):
        missing.handler(missing)
    assert not out.exists()


def test_sweep_command_refuses_an_unreachable_scheduler(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sim.experiment.execute.DASK_CONNECT_TIMEOUT", 1.0)
    good = tmp_path / "good.toml"
    good.write_text(PLUGIN)
    out = tmp_path / "out"
    args = _parser().parse_args(["sweep", str(good), "--out", str(out), "--scheduler",
                                 "tcp://127.0.0.1:9"])
    with pytest.raises(UsageError, match="cannot reach the Dask scheduler"):
        args.handler(args)
    assert not out.exists()


def test_workers_and_scheduler_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["sweep", "f.toml", "--workers", "2", "--scheduler", "tcp://x:1"])


@pytest.mark.parametrize(("edit", "culprit"), [
    (("method = \"lhs\"", "method = \"bogus\""), "method must be one of"),
    (("x1 = [0.0, 1.0]", "x1 = [2.0, 1.0]"), "parameter 'x1': low must be below high"),
    (("outcomes = [\"y\"]\n", ""), "'outcomes' is required"),
])
def test_icsim_sweep_refuses_bad_files_with_exit_2(tmp_path_factory: pytest.TempPathFactory,
                                                   edit: tuple[str, str], culprit: str) -> None:
    bad = tmp_path_factory.mktemp("files") / "bad.toml"
    bad.write_text(PLUGIN.replace(*edit))
    # Without --out the sweep would go to results/<name> under the (empty) working dir.
    assert_refused(tmp_path_factory.mktemp("cwd"), ["sweep", str(bad), "--workers", "1"],
                   culprit)


def test_icsim_analyze_refuses_a_directory_without_a_sweep(tmp_path: Path) -> None:
    assert_refused(tmp_path, ["analyze", str(tmp_path)], "holds no sweep")


def test_screening_all_lists_every_registry_entry_at_its_plausible_range() -> None:
    exp = load_experiment(ROOT / "experiments" / "screening_all.toml")
    assert exp.method == "morris"
    assert set(exp.names) == {n for n, p in PARAMETERS.items()
                              if p.level not in ("national", "scenario")}
    for lever in exp.levers:
        p = PARAMETERS[lever.name]
        if p.kind == "bool":
            assert set(lever.values) == {False, True}
        elif p.kind == "choice":
            assert set(lever.values) == set(p.choices), p.name
        else:
            assert (lever.low, lever.high) == tuple(map(float, p.plausible_range)), p.name


def test_structural_choices_are_swept_as_values() -> None:
    exp = parse(PROJECT.replace("[parameters]", '[parameters]\nenablers_form = '
                                '{ values = ["product", "mean"] }'))
    assert "enablers_form" in exp.names
    with pytest.raises(UsageError, match="structural choice"):
        parse(PROJECT.replace("[parameters]", "[parameters]\nenablers_form = [0, 1]"))
    with pytest.raises(UsageError, match="enablers_form"):
        parse(PROJECT.replace("[parameters]", '[parameters]\nenablers_form = '
                                '{ values = ["product", "sum"] }'))


def test_the_national_views_assumptions_are_refused_for_one_project() -> None:
    with pytest.raises(UsageError, match="national view"):
        parse(PROJECT.replace("[parameters]", "[parameters]\nsite_vision_sd = [0.05, 0.15]"))
    with pytest.raises(UsageError, match="national view"):
        parse(PROJECT.replace("[parameters]", "[constants]\nnational_funded_share = 0.3\n"
                                              "[parameters]"))


def test_sobol_refuses_a_switch_morris_keeps_it(tmp_path):
    from sim.core.errors import UsageError
    from sim.experiment.spec import parse_experiment

    text = ('name = "x"\nmethod = "sobol"\nsamples = 8\noutcomes = ["pilot"]\n'
            "[parameters]\nsmall_tasks = { values = [false, true] }\n"
            "turnover_rate = [0.05, 0.2]\n")
    with pytest.raises(UsageError, match="'small_tasks' is true/false.*method = \"grid\""):
        parse_experiment(text)
    morris = text.replace('"sobol"', '"morris"')
    assert parse_experiment(morris).levers[0].arrow_type == "bool"
    grid = ('name = "x"\nmethod = "grid"\noutcomes = ["pilot"]\n'
            "[parameters]\nsmall_tasks = { values = [false, true] }\n")
    assert parse_experiment(grid).levers[0].arrow_type == "bool"


def test_resume_compares_the_parsed_experiment_not_its_text():
    from sim.experiment.spec import parse_experiment

    text = ('name = "x"\nmethod = "sobol"\nsamples = 8\noutcomes = ["pilot"]\n'
            "[parameters]\nturnover_rate = [0.05, 0.2]\n")
    commented = "# a comment an analyst added\n" + text.replace(
        "samples = 8", "samples = 8  # small on purpose")
    assert parse_experiment(text).sha256 == parse_experiment(commented).sha256
    changed = text.replace("[0.05, 0.2]", "[0.05, 0.3]")
    assert parse_experiment(text).sha256 != parse_experiment(changed).sha256


def test_parameters_may_carry_distributions():
    from scipy import stats

    from sim.core.errors import UsageError
    from sim.experiment.design import make_design
    from sim.experiment.spec import parse_experiment

    text = """
name = "d"
model = "sim.experiment.examples:noisy_linear"
method = "lhs"
samples = 4000
outcomes = ["y"]
[parameters]
x1 = { dist = "normal", mean = 0.5, sd = 0.1 }
x2 = { dist = "triangular", low = 0.0, mode = 0.8, high = 1.0 }
dud = { dist = "lognormal", median = 2.0, sigma = 0.5 }
"""
    design = make_design(parse_experiment(text, check_model=False))
    cols = design.point_columns
    assert cols["x1"].mean() == pytest.approx(0.5, abs=0.01)
    assert cols["x1"].std() == pytest.approx(0.1, abs=0.01)
    assert np.median(cols["dud"]) == pytest.approx(2.0, rel=0.05)
    # triangular (0, 0.8, 1): mean (0 + 0.8 + 1) / 3
    assert cols["x2"].mean() == pytest.approx(0.6, abs=0.01)
    assert stats.kstest(cols["x2"], stats.triang(0.8, loc=0, scale=1).cdf).pvalue > 0.01
    project = """
name = "p"
method = "sobol"
samples = 8
outcomes = ["pilot"]
[parameters]
turnover_rate = { dist = "truncnormal", low = 0.05, high = 0.3, mean = 0.11, sd = 0.05 }
"""
    lever = parse_experiment(project).levers[0]
    assert lever.dist == "truncnormal" and 0.05 <= lever.to_value(0.001) < lever.to_value(0.9)
    with pytest.raises(UsageError, match="outside the registry's"):
        parse_experiment(project.replace(
            '{ dist = "truncnormal", low = 0.05, high = 0.3, mean = 0.11, sd = 0.05 }',
            '{ dist = "normal", mean = 0.1, sd = 0.3 }'))
    with pytest.raises(UsageError, match="dist must be one of normal"):
        parse_experiment(project.replace('"truncnormal"', '"cauchy"'))
    with pytest.raises(UsageError, match="takes numbers low, high, mean, sd"):
        parse_experiment(project.replace(", sd = 0.05", ""))


@pytest.mark.parametrize("path", sorted(p.name for p in (ROOT / "experiments").glob("*.toml")
                                        if not p.name.startswith("calibrate_")
                                        and p.name != "validate_national.toml"))
def test_an_experiment_renders_canonical_text_that_parses_back_to_it(path):
    """``Experiment.to_toml`` (what an experiment built in code records in its manifest)
    parses back to the same hash and design, and is a fixed point."""
    experiment = load_experiment(ROOT / "experiments" / path)
    text = experiment.to_toml()
    again = parse_experiment(text, source=path)
    assert again.sha256 == experiment.sha256
    # the same design: at 64 samples (the shipped Morris screening's 8,192 trajectories
    # took 4.7 s to build twice; a design's sample count is one number of the file)
    few = [dataclasses.replace(e, samples=min(e.samples, 64)) for e in (again, experiment)]
    assert make_design(few[0]).sha256 == make_design(few[1]).sha256
    assert again.to_toml() == text


def test_canonical_text_of_plug_ins_distributions_and_awkward_values():
    text = """
    name = "odd"
    model = "sim.experiment.examples:noisy_linear"
    method = "morris"
    samples = 4
    levels = 6
    run_timeout_s = 12.5
    outcomes = ["y"]
    [parameters]
    x1 = { dist = "triangular", low = 0.0, mode = 0.2, high = 1.0 }
    x2 = { values = ["a \\"quoted\\" \\\\ name", "tab\\there", "ünï"] }
    x3 = [1e-05, 2.5]
    [constants]
    c = 1e300
    flag = true
    "with space" = "x"
    """
    experiment = parse(text)
    again = parse_experiment(experiment.to_toml(), source="exp.toml")
    assert again.sha256 == experiment.sha256
    assert again.levers == experiment.levers and dict(again.constants) == dict(
        experiment.constants) and again.run_timeout_s == 12.5


def test_a_grid_is_built_as_arrays_in_itertools_order() -> None:
    """Issue 24: a grid's points and values come from arrays (no tuple per point), in the
    order and with the types the itertools.product construction gave, so a sweep's
    design hash -- and its resume -- do not change."""
    import itertools

    from sim.experiment.spec import load_experiment
    from sim.studies import national

    for experiment in (load_experiment(Path("experiments/national_approach_grid.toml")),
                       national.check(sites=7, rules="none,targeted", replicates=3
                                      ).experiment()):
        design = make_design(experiment)
        grids = [lever.grid_values(experiment.levels) for lever in experiment.levers]
        old_x = np.array(list(itertools.product(*(range(len(g)) for g in grids))), dtype=float)
        assert np.array_equal(design.x, old_x)
        for j, lever in enumerate(experiment.levers):
            column = design.point_columns[lever.name]
            old = [grids[j][int(i)] for i in old_x[:, j]]
            dtype = {"float64": np.float64, "int64": np.int64, "bool": bool
                     }.get(lever.arrow_type, object)
            assert column.dtype == dtype
            assert column.tolist() == old
            assert [type(v) for v in column.tolist()] == [type(v) for v in
                                                          np.asarray(old, dtype).tolist()]

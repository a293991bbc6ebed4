"""The hostile-input suite: bad input to every command and every file type is refused with
exit status 2, exactly one line on stderr naming the culprit, and nothing written.

Table-driven and in-process (``sim.ui.cli.main``), so that some two hundred cases run in
seconds: each case runs in one shared directory of fixtures (good and bad experiment,
scenario and calibration files, posteriors, a finished sweep, a FIFO, a large file), whose
whole tree -- names, sizes, modification times -- is compared before and after.

Faults that are not input (a lost Dask scheduler) are in tests/experiment/test_dask.py,
which shares one Dask cluster among the tests that need one.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from sim.ui.cli import main

ROOT = Path(__file__).resolve().parents[2]

GOOD_EXPERIMENT = """\
name = "good"
method = "lhs"
samples = 4
replicates = 2
months = 12
outcomes = ["pilot", "time_to_pilot"]
[parameters]
turnover_rate = [0.0, 0.4]
"""

GOOD_SCENARIO = """\
name = "late"
description = "enabling, late"
source = "a test"
base = "baseline"
[levers]
turnover_rate = 0.11
[[changes]]
month = 24
payment_integration = 0.7
"""

GOOD_CALIBRATION = """\
name = "cal"
population = 20
generations = 2
simulations = 1000
accept = 50
chunk = 500
coverage_cases = 5
months = 48
infer = "listed"
[constants]
high = 0.6
[priors]
progress_rate = [0.05, 0.3]
[[targets]]
name = "T1"
statistic = "pilot_month"
min = 30
max = 42
near = 12
"""


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _add(text: str, line: str) -> str:
    """Add a top-level key (before the first table)."""
    head, sep, tail = text.partition("\n[")
    return f"{head}\n{line}{sep}{tail}"


#: A good [timeseries] table for GOOD_EXPERIMENT (horizon 12 months).
GOOD_SERIES = """\
[timeseries]
outcomes = ["pilot", "dac_team_commitment"]
every = 3
months = [3, 12]
"""

# --------------------------------------------------------------------- bad experiment files
E = GOOD_EXPERIMENT
P = """\
name = "plug"
model = "sim.experiment.examples:noisy_linear"
method = "lhs"
samples = 4
outcomes = ["y"]
[parameters]
x1 = [0.0, 1.0]
"""
BAD_EXPERIMENTS = {
    "name_dotdot": (_edit(E, 'name = "good"', 'name = "../../x"'), "'name'"),
    "name_absolute": (_edit(E, 'name = "good"', 'name = "/tmp/x"'), "'name'"),
    "name_hyphen": (_edit(E, 'name = "good"', 'name = "a-b"'), "'name'"),
    "name_digit": (_edit(E, 'name = "good"', 'name = "1abc"'), "'name'"),
    "name_empty": (_edit(E, 'name = "good"', 'name = ""'), "'name'"),
    "name_number": (_edit(E, 'name = "good"', "name = 3"), "'name'"),
    "name_space": (_edit(E, 'name = "good"', 'name = "a b"'), "'name'"),
    "outcome_path": (_edit(E, '"time_to_pilot"]', '"x/../../../../y"]'), "x/../../../../y"),
    "outcome_space": (_edit(E, '"time_to_pilot"]', '"a b"]'), "'a b'"),
    "outcome_unknown": (_edit(E, '"time_to_pilot"]', '"happiness"]'), "happiness"),
    "outcome_twice": (_edit(E, '"time_to_pilot"]', '"pilot"]'), "twice"),
    "outcomes_empty": (_edit(E, 'outcomes = ["pilot", "time_to_pilot"]', "outcomes = []"),
                       "outcomes"),
    "outcome_clash": (_edit(E, '"time_to_pilot"]', '"seed"]'), "clashes"),
    "samples_huge": (_edit(E, "samples = 4", "samples = 1000000000"), "'samples'"),
    "samples_zero": (_edit(E, "samples = 4", "samples = 0"), "'samples'"),
    "samples_float": (_edit(E, "samples = 4", "samples = 2.5"), "'samples'"),
    "samples_text": (_edit(E, "samples = 4", 'samples = "4"'), "'samples'"),
    "samples_bool": (_edit(E, "samples = 4", "samples = true"), "'samples'"),
    "replicates_huge": (_edit(E, "replicates = 2", "replicates = 1000000000"),
                        "'replicates'"),
    "replicates_zero": (_edit(E, "replicates = 2", "replicates = 0"), "'replicates'"),
    "replicates_negative": (_edit(E, "replicates = 2", "replicates = -3"), "'replicates'"),
    "months_huge": (_edit(E, "months = 12", "months = 1000000000"), "'months'"),
    "months_zero": (_edit(E, "months = 12", "months = 0"), "'months'"),
    "runs_per_part_huge": (_add(E, "runs_per_part = 1000000000"), "'runs_per_part'"),
    "runs_per_part_zero": (_add(E, "runs_per_part = 0"), "'runs_per_part'"),
    "levels_huge": (_add(_edit(E, 'method = "lhs"', 'method = "morris"'),
                         "levels = 1000000000"), "'levels'"),
    "levels_one": (_add(_edit(E, 'method = "lhs"', 'method = "morris"'), "levels = 1"),
                   "'levels'"),
    "levels_on_lhs": (_add(E, "levels = 4"), "'levels'"),
    "grid_runs_huge": (_edit(_edit(_edit(E, 'method = "lhs"', 'method = "grid"'),
                                   "samples = 4\n", "levels = 1000\n"),
                             "turnover_rate = [0.0, 0.4]",
                             "turnover_rate = [0.0, 0.4]\nprogress_rate = [0.05, 0.3]\n"
                             "initial_engagement = [0.5, 0.9]"), "runs"),
    "sobol_runs_huge": (_edit(_edit(_edit(E, 'method = "lhs"', 'method = "sobol"'),
                                    "replicates = 2", "replicates = 100"),
                              "samples = 4", "samples = 1048576"),
                        "replicates"),
    "sobol_not_power": (_edit(_edit(E, 'method = "lhs"', 'method = "sobol"'),
                              "samples = 4", "samples = 6"), "power of 2"),
    "samples_on_grid": (_edit(E, 'method = "lhs"', 'method = "grid"'), "'samples'"),
    "second_order_lhs": (_add(E, "second_order = true"), "second_order"),
    "seed_negative": (_add(E, "seed = -1"), "'seed'"),
    "seed_float": (_add(E, "seed = 1.5"), "'seed'"),
    "seed_text": (_add(E, 'seed = "1"'), "'seed'"),
    "method_unknown": (_edit(E, 'method = "lhs"', 'method = "fast"'), "method"),
    "engine_unknown": (_add(E, 'engine = "warp"'), "engine"),
    "scenario_unknown": (_add(E, 'scenario = "utopia"'), "utopia"),
    "key_unknown": (_add(E, "sample = 3"), "'sample'"),
    "model_bad_ref": (_add(E, 'model = "not a model"'), "model"),
    "parameters_missing": (E.split("[parameters]")[0], "[parameters]"),
    "parameters_empty": (E.split("[parameters]")[0] + "[parameters]\n", "[parameters]"),
    "parameter_unknown": (_edit(E, "turnover_rate = [0.0, 0.4]", "warp_speed = [0, 1]"),
                          "warp_speed"),
    "parameter_out_of_bounds": (_edit(E, "[0.0, 0.4]", "[0.0, 5.0]"), "turnover_rate"),
    "parameter_reversed": (_edit(E, "[0.0, 0.4]", "[0.4, 0.0]"), "turnover_rate"),
    "parameter_three": (_edit(E, "[0.0, 0.4]", "[0.0, 0.2, 0.4]"), "turnover_rate"),
    "parameter_text": (_edit(E, "[0.0, 0.4]", '["0", "0.4"]'), "turnover_rate"),
    "parameter_nan": (_edit(E, "[0.0, 0.4]", "[nan, 0.4]"), "turnover_rate"),
    "parameter_inf": (_edit(E, "[0.0, 0.4]", "[0.0, inf]"), "turnover_rate"),
    "switch_as_range": (_edit(E, "turnover_rate = [0.0, 0.4]", "small_tasks = [0, 1]"),
                        "small_tasks"),
    "values_empty": (_edit(E, "[0.0, 0.4]", "{ values = [] }"), "turnover_rate"),
    "values_twice": (_edit(E, "[0.0, 0.4]", "{ values = [0.1, 0.1] }"), "twice"),
    "values_text": (_edit(E, "[0.0, 0.4]", '{ values = ["0.1"] }'), "turnover_rate"),
    "values_extra_key": (_edit(E, "[0.0, 0.4]", "{ values = [0.1], x = 1 }"),
                         "turnover_rate"),
    "dist_unknown": (_edit(E, "[0.0, 0.4]", '{ dist = "cauchy", a = 1 }'), "dist"),
    "dist_bad_sd": (_edit(E, "[0.0, 0.4]", '{ dist = "normal", mean = 0.2, sd = -1 }'),
                    "turnover_rate"),
    "dist_nan_values": (_edit(E, "turnover_rate = [0.0, 0.4]", "turnover_rate = "
                              '{ dist = "truncnormal", low = 0.0, high = 0.4, mean = 1e300, '
                              "sd = 1e-300 }"), "turnover_rate"),
    "dist_tiny_sd": (_edit(E, "[0.0, 0.4]", '{ dist = "normal", mean = 0.2, sd = 5e-324 }'),
                     "turnover_rate"),
    "dist_tiny_sigma": (_edit(E, "[0.0, 0.4]", '{ dist = "lognormal", median = 0.2, '
                              "sigma = 1e-300 }"), "turnover_rate"),
    "national_parameter": (_edit(E, "turnover_rate = [0.0, 0.4]",
                                 "national_budget_share = [0.1, 0.3]"),
                           "national_budget_share"),
    "parameter_name_path": (_edit(P, "x1 = [0.0, 1.0]", '"../../evil" = [0.0, 1.0]'),
                            "../../evil"),
    "parameter_name_empty": (_edit(P, "x1 = [0.0, 1.0]", '"" = [0.0, 1.0]'),
                             "parameter name"),
    "outcome_newline": (_edit(P, '["y"]', '["y\\n"]'), "outcome name"),
    "model_main": (_add(E, 'model = "sim.__main__:main"'), "sim.__main__"),
    "constant_unknown": (E + "[constants]\nwarp = 1\n", "warp"),
    "constant_text_number": (E + '[constants]\nteam_size = "12"\n', "team_size"),
    "constant_and_swept": (E + "[constants]\nturnover_rate = 0.1\n", "turnover_rate"),
    "file_timeout_negative": (_add(E, "run_timeout_s = -1"), "'run_timeout_s'"),
    "file_timeout_text": (_add(E, 'run_timeout_s = "1"'), "'run_timeout_s'"),
    "file_timeout_nan": (_add(E, "run_timeout_s = nan"), "'run_timeout_s'"),
    "not_toml": ("name = \n[[[", "not valid TOML"),
    "empty_file": ("", "[parameters]"),
    # [timeseries]: monthly outcomes (GOOD_SERIES is accepted; each case breaks one thing)
    "series_unknown_key": (E + GOOD_SERIES + "evry = 2\n", "evry"),
    "series_not_a_table": (_add(E, "timeseries = 3"), "[timeseries]"),
    "series_unknown_outcome": (E + _edit(GOOD_SERIES, '"dac_team_commitment"',
                                         '"happiness"'), "happiness"),
    "series_scalar_only_outcome": (E + _edit(GOOD_SERIES, '"dac_team_commitment"',
                                             '"time_to_pilot"'), "time_to_pilot"),
    "series_outcomes_empty": (E + "[timeseries]\noutcomes = []\n", "'outcomes'"),
    "series_outcomes_missing": (E + "[timeseries]\nevery = 2\n", "'outcomes'"),
    "series_outcome_twice": (E + _edit(GOOD_SERIES, '"dac_team_commitment"', '"pilot"'),
                             "twice"),
    "series_outcome_path": (E + _edit(GOOD_SERIES, '"dac_team_commitment"', '"../x"'),
                            "../x"),
    "series_every_zero": (E + _edit(GOOD_SERIES, "every = 3", "every = 0"), "'every'"),
    "series_every_past_horizon": (E + _edit(GOOD_SERIES, "every = 3", "every = 13"),
                                  "'every'"),
    "series_every_text": (E + _edit(GOOD_SERIES, "every = 3", 'every = "3"'), "'every'"),
    "series_every_bool": (E + _edit(GOOD_SERIES, "every = 3", "every = true"), "'every'"),
    "series_months_past_horizon": (E + _edit(GOOD_SERIES, "[3, 12]", "[3, 13]"),
                                   "'months'"),
    "series_months_reversed": (E + _edit(GOOD_SERIES, "[3, 12]", "[9, 3]"), "'months'"),
    "series_months_zero": (E + _edit(GOOD_SERIES, "[3, 12]", "[0, 12]"), "'months'"),
    "series_months_one": (E + _edit(GOOD_SERIES, "[3, 12]", "[3]"), "'months'"),
    "series_months_float": (E + _edit(GOOD_SERIES, "[3, 12]", "[3.0, 12]"), "'months'"),
    "series_plugin_no_months": (P + '[timeseries]\noutcomes = ["z"]\n', "'months'"),
    "series_plugin_scalar_clash": (P + '[timeseries]\noutcomes = ["y"]\nmonths = [1, 6]\n',
                                   "'y'"),
    "series_plugin_parameter_clash": (P + '[timeseries]\noutcomes = ["x1"]\n'
                                      'months = [1, 6]\n', "'x1'"),
    "series_plugin_month_clash": (P + '[timeseries]\noutcomes = ["month"]\n'
                                  'months = [1, 6]\n', "'month'"),
}

# --------------------------------------------------------------------- bad scenario files
S = GOOD_SCENARIO
BAD_SCENARIOS = {
    "s_not_toml": ("name = [", "not valid TOML"),
    "s_unknown_key": (S + "colour = 1\n", "colour"),
    "s_no_name": (_edit(S, 'name = "late"\n', ""), "'name'"),
    "s_name_plus": (_edit(S, 'name = "late"', 'name = "a+b"'), "'name'"),
    "s_no_description": (_edit(S, 'description = "enabling, late"\n', ""), "'description'"),
    "s_no_source": (_edit(S, 'source = "a test"\n', ""), "'source'"),
    "s_base_unknown": (_edit(S, 'base = "baseline"', 'base = "utopia"'), "utopia"),
    "s_base_number": (_edit(S, 'base = "baseline"', "base = 3"), "'base'"),
    "s_lever_unknown": (_edit(S, "turnover_rate = 0.11", "warp = 1"), "warp"),
    "s_lever_bounds": (_edit(S, "turnover_rate = 0.11", "turnover_rate = 3.0"),
                       "turnover_rate"),
    "s_lever_text": (_edit(S, "turnover_rate = 0.11", 'turnover_rate = "0.11"'),
                     "turnover_rate"),
    "s_lever_nan": (_edit(S, "turnover_rate = 0.11", "turnover_rate = nan"), "turnover_rate"),
    "s_change_no_month": (_edit(S, "month = 24\n", ""), "month"),
    "s_change_month_zero": (_edit(S, "month = 24", "month = 0"), "month"),
    "s_change_month_text": (_edit(S, "month = 24", 'month = "24"'), "month"),
    "s_change_no_lever": (_edit(S, "payment_integration = 0.7\n", ""), "changes no lever"),
    "s_change_team_lever": (_edit(S, "payment_integration = 0.7", "team_size = 12"),
                            "team_size"),
    "s_name_pipe": (_edit(S, 'name = "late"', 'name = "a|b"'), "'name'"),
    "s_name_escape": (_edit(S, 'name = "late"', 'name = "a\\u001b[31mb"'), "'name'"),
    "s_name_nul": (_edit(S, 'name = "late"', 'name = "a\\u0000b"'), "'name'"),
    "s_change_twice": (S + "[[changes]]\nmonth = 24\nincentives = 0.5\n", "share a month"),
}

# --------------------------------------------------------------------- bad calibration files
C = GOOD_CALIBRATION
BAD_CALIBRATIONS = {
    "c_not_toml": ("population = = 3", "not valid TOML"),
    "c_unknown_key": (_add(C, "colour = 1"), "colour"),
    "c_name_path": (_edit(C, 'name = "cal"', 'name = "../x"'), "'name'"),
    "c_population_one": (_edit(C, "population = 20", "population = 1"), "'population'"),
    "c_population_huge": (_edit(C, "population = 20", "population = 1000000000"),
                          "'population'"),
    "c_generations_zero": (_edit(C, "generations = 2", "generations = 0"), "'generations'"),
    "c_generations_huge": (_edit(C, "generations = 2", "generations = 100000"),
                           "'generations'"),
    "c_simulations_huge": (_edit(C, "simulations = 1000", "simulations = 1000000000000"),
                           "'simulations'"),
    "c_accept_above_simulations": (_edit(C, "accept = 50", "accept = 5000"), "'accept'"),
    "c_method_unknown": (_add(C, 'method = "magic"'), "magic"),
    "c_months_zero": (_edit(C, "months = 48", "months = 0"), "'months'"),
    "c_seed_negative": (_add(C, "seed = -1"), "'seed'"),
    "c_scenario_unknown": (_add(C, 'scenario = "utopia"'), "utopia"),
    "c_constant_text": (_edit(C, "high = 0.6", 'high = "x"'), "'high'"),
    "c_parameter_unknown": (_edit(C, "progress_rate = [0.05, 0.3]", "warp = [0, 1]"), "warp"),
    "c_prior_bounds": (_edit(C, "[0.05, 0.3]", "[-5.0, 0.3]"), "progress_rate"),
    "c_prior_word": (_edit(C, "[0.05, 0.3]", '"wide"'), "progress_rate"),
    "c_prior_switch": (_edit(C, "progress_rate = [0.05, 0.3]", "small_tasks = [0, 1]"),
                       "small_tasks"),
    "c_prior_form": (_edit(C, "progress_rate = [0.05, 0.3]", 'pilot_scope = ["huge"]'),
                     "pilot_scope"),
    "c_fixed_without_why": (C + "[fixed]\ninitial_funding = \"\"\n", "initial_funding"),
    "c_name_accent": (_edit(C, 'name = "cal"', 'name = "caf\u00e9"'), "'name'"),
    "c_no_targets": (C.split("[[targets]]")[0], "[[targets]]"),
    "c_target_twice": (C + C[C.index("[[targets]]"):], "twice"),
    "c_target_field_unknown": (_edit(C, '"pilot_month"', '"warp_month"'), "warp_month"),
    "c_target_probe_late": (_edit(C, '"pilot_month"', '"host_changes_m99"'),
                            "host_changes_m99"),
    "c_target_code": (_edit(C, '"pilot_month"', "\"__import__('os').getcwd()\""),
                      "only numbers, run fields"),
    "c_target_no_bound": (_edit(C, "min = 30\nmax = 42\nnear = 12", ""), "needs a bound"),
    "c_target_empty_bounds": (_edit(C, "min = 30", "min = 50"), "admit no value"),
    "c_target_constant_missing": (_edit(C, "min = 30", 'min = "low"'), "'low'"),
    "c_target_near_strict": (_edit(C, "min = 30", "above = 30"), "'near'"),
    "c_target_weight": (_edit(C, "near = 12", "near = 12\nweight = -1"), "'weight'"),
    "c_target_key": (_edit(C, "near = 12", "near = 12\ncolour = 1"), "colour"),
}

# --------------------------------------------------------------------- bad posterior files
BAD_POSTERIORS = {
    "p_unknown_column": (pd.DataFrame({"warp": [0.1, 0.2]}), "warp"),
    "p_text_values": (pd.DataFrame({"turnover_rate": ["0.1", "0.2"]}), "turnover_rate"),
    "p_out_of_bounds": (pd.DataFrame({"turnover_rate": [0.1, 5.0]}), "turnover_rate"),
    "p_nan": (pd.DataFrame({"turnover_rate": [0.1, float("nan")]}), "turnover_rate"),
    "p_empty": (pd.DataFrame({"turnover_rate": pd.Series([], dtype=float)}), "no draws"),
    "p_no_columns": (pd.DataFrame({"weight": [1.0]}), "no draws"),
    "p_weight_nan": (pd.DataFrame({"turnover_rate": [0.1, 0.2], "weight": [1.0, float("nan")]}),
                     "'weight'"),
    "p_weight_negative": (pd.DataFrame({"turnover_rate": [0.1, 0.2], "weight": [1.0, -5.0]}),
                          "'weight'"),
    "p_weight_zero": (pd.DataFrame({"turnover_rate": [0.1, 0.2], "weight": [0.0, 0.0]}),
                      "weight"),
    "p_weight_text": (pd.DataFrame({"turnover_rate": [0.1, 0.2], "weight": ["a", "b"]}),
                      "'weight'"),
}


# --------------------------------------------------------------------- the fixture tree
@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A directory of fixtures every case runs in; no case may change it."""
    from sim.experiment.sweep import run_sweep

    root = tmp_path_factory.mktemp("hostile")
    (root / "good.toml").write_text(GOOD_EXPERIMENT)
    (root / "medium.toml").write_text("# padding\n" * 300 + GOOD_EXPERIMENT)  # 3 kB, valid
    (root / "late.toml").write_text(GOOD_SCENARIO)
    (root / "two_changes.toml").write_text(
        GOOD_SCENARIO + "[[changes]]\nmonth = 30\nincentives = 0.5\n")
    (root / "cal.toml").write_text(GOOD_CALIBRATION)
    shutil.copy(ROOT / "data" / "case_posterior.parquet", root / "posterior.parquet")
    for name, (text, _) in BAD_EXPERIMENTS.items():
        (root / f"{name}.toml").write_text(text)
    for name, (text, _) in BAD_SCENARIOS.items():
        (root / f"{name}.toml").write_text(text)
    for name, (text, _) in BAD_CALIBRATIONS.items():
        (root / f"{name}.toml").write_text(text)
    for name, (frame, _) in BAD_POSTERIORS.items():
        frame.to_parquet(root / f"{name}.parquet")
    (root / "text.parquet").write_text("not parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = pa.array([0.1, 0.2])
    pq.write_table(pa.Table.from_arrays([column, column], names=["turnover_rate"] * 2),
                   root / "p_duplicate_columns.parquet")
    (root / "latin1.toml").write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    (root / "deep_arrays.toml").write_text("x = " + "[" * 40000 + "]" * 40000 + "\n")
    (root / "deep_tables.toml").write_text("x = " + "{a=" * 5000 + "1" + "}" * 5000 + "\n")
    (root / "deep_value.toml").write_text(  # parses, but nested past the ceiling
        'name = "d"\n[parameters]\nx = ' + "[" * 20 + "1" + "]" * 20 + "\n")
    (root / "file").write_text("a file, not a directory\n")
    (root / "dir.toml").mkdir()
    (root / "empty_dir").mkdir()
    (root / "not_a_sweep").mkdir()
    (root / "not_a_sweep" / "notes.txt").write_text("mine\n")
    os.mkfifo(root / "fifo.toml")
    os.mkfifo(root / "fifo.parquet")
    with open(root / "big.toml", "wb") as fh:  # past the 1 MB ceiling of text files
        fh.write(b"# " + b"x" * (2 * 1024 * 1024) + b"\n")
    with open(root / "big.parquet", "wb") as fh:  # sparse: 60 MB past the 50 MB ceiling
        fh.truncate(60 * 1024 * 1024)
    # a finished sweep, and copies of its manifest carrying hostile experiment texts
    run_sweep(root / "good.toml", root / "sweep", workers=1, progress=False)
    manifest = json.loads((root / "sweep" / "manifest.json").read_text())
    for name, edit in (("evil_outcome", ('"time_to_pilot"]', '"x/../../../../y"]')),
                       ("evil_name", ('name = "good"', 'name = "../../x"')),
                       ("evil_samples", ("samples = 4", "samples = 1000000000"))):
        evil = json.loads(json.dumps(manifest))
        evil["experiment"]["text"] = _edit(evil["experiment"]["text"], *edit)
        (root / name / "runs").mkdir(parents=True)
        (root / name / "manifest.json").write_text(json.dumps(evil))
        shutil.copy(next((root / "sweep" / "runs").glob("part-*.parquet")),
                    root / name / "runs")
    # symbolic links inside a sweep received from someone else: each points outside it
    elsewhere = root / "elsewhere"
    shutil.copytree(root / "sweep", elsewhere)
    for name, (link, target) in SYMLINKS.items():
        shutil.copytree(root / "sweep", root / name, ignore=shutil.ignore_patterns(".icsim.lock"))
        if (root / name / link).is_dir():
            shutil.rmtree(root / name / link)
        else:
            (root / name / link).unlink(missing_ok=True)
        (root / name / link).parent.mkdir(exist_ok=True)
        os.symlink(elsewhere / target, root / name / link)
    (root / "cal_link").mkdir()
    (root / "cal_link" / "calibration.json").write_text("{}")
    os.symlink(elsewhere / "history.db", root / "cal_link" / "history.db")
    return root


#: A sweep directory holding one symbolic link where icsim writes: name -> (link, target).
SYMLINKS = {
    "link_runs": ("runs", "runs"),
    "link_discarded": ("discarded", "discarded"),
    "link_ledger": ("checksums.jsonl", "checksums.jsonl"),
    "link_analysis": ("analysis", "analysis"),
    "link_history": ("history.db", "history.db"),
    "link_lock": (".icsim.lock", "nothing_here_yet"),
    "link_manifest": ("manifest.json", "manifest.json"),
    "link_part": ("runs/part-000000.parquet", "runs/part-000000.parquet"),
    "link_series": ("timeseries", "timeseries"),
    "link_series_part": ("timeseries/part-000000.parquet", "runs/part-000000.parquet"),
}


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, and for files their size and modification
    time. (A directory's own modification time is left out: a job refused after taking
    its directory lock creates and removes the lock file, leaving nothing behind.) One
    ``lstat`` an entry, through ``os.scandir``: it runs twice for each of some 400 cases."""
    out: dict[str, tuple] = {}

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                name = prefix + entry.name
                if stat.S_ISDIR(info.st_mode):  # a real folder (a link to one is a link)
                    out[name] = (info.st_mode,)
                    walk(entry.path, name + "/")
                else:
                    out[name] = (info.st_mode, info.st_size, info.st_mtime_ns)

    walk(str(root), "")
    return out


def test_the_snapshot_sees_a_new_file_a_rewrite_a_new_folder_and_a_link(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("one")
    before = snapshot(tmp_path)
    assert set(before) == {"a", "a/f.txt"}
    os.utime(tmp_path / "a" / "f.txt", ns=(1, 1))
    touched = snapshot(tmp_path)
    assert touched != before
    (tmp_path / "a" / "b").mkdir()
    assert set(snapshot(tmp_path)) == {"a", "a/f.txt", "a/b"}
    os.symlink(tmp_path / "a", tmp_path / "link")  # a link to a folder is not walked
    assert set(snapshot(tmp_path)) == {"a", "a/f.txt", "a/b", "link"}


def refused(tree: Path, argv: list[str], culprit: str, capsys, monkeypatch,
            env: dict[str, str] | None = None) -> None:
    """``icsim ARGV`` in ``tree``: exit 2, one stderr line naming ``culprit``, nothing
    written anywhere in the tree."""
    monkeypatch.chdir(tree)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    before = snapshot(tree)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, (code, captured.err[-2000:])
    assert len(lines) == 1, lines
    assert lines[0].startswith("icsim"), lines[0]
    assert culprit in lines[0], (culprit, lines[0])
    assert "Traceback" not in captured.err
    assert snapshot(tree) == before, "the tree changed"


# --------------------------------------------------------------------- the table
OUT = ["--out", "new_out"]
CASES: list[tuple[str, list[str], str, dict[str, str] | None]] = []


def case(name: str, argv: list[str], culprit: str, env: dict[str, str] | None = None
         ) -> None:
    CASES.append((name, argv, culprit, env))


# -- run
for value, culprit in (("-1", "--seed"), ("1.5", "--seed"), ("x", "--seed"),
                       ("", "--seed")):
    case(f"run_seed_{value or 'empty'}", ["run", "--seed", value, *OUT], culprit)
for value, culprit in (("0", "--months"), ("-5", "--months"), ("1201", "ceiling"),
                       ("1000000000", "ICSIM_MAX_MONTHS"), ("ten", "--months"),
                       ("1e3", "--months")):
    case(f"run_months_{value}", ["run", "--months", value, *OUT], culprit)
for text, culprit in (("warp_speed=1", "warp_speed"), ("turnover_rate=0.9", "turnover_rate"),
                      ("turnover_rate=abc", "turnover_rate"),
                      ("turnover_rate=nan", "turnover_rate"),
                      ("turnover_rate=inf", "turnover_rate"),
                      ("turnover_rate=", "turnover_rate"),
                      ("team_size=7.5", "team_size"), ("team_size=big", "team_size"),
                      ("small_tasks=maybe", "small_tasks"),
                      ("enablers_form=cubic", "enablers_form"),
                      ("noequals", "NAME=VALUE"), ("=3", "NAME=VALUE"),
                      ("national_budget_share=0.2x", "national_budget_share")):
    case(f"run_set_{text}", ["run", "--set", text, *OUT], culprit)
for scenario, culprit in (("utopia", "utopia"), ("baseline+utopia", "utopia"),
                          ("", "scenario"), ("+", "scenario"), ("baseline+", "scenario")):
    case(f"run_scenario_{scenario or 'empty'}", ["run", "--scenario", scenario, *OUT], culprit)
case("run_format_gif", ["run", "--format", "gif", *OUT], "gif")
case("run_format_empty", ["run", "--format", ",", *OUT], "--format")
case("run_out_empty", ["run", "--out", ""], "--out")
case("run_out_dot", ["run", "--out", "."], "--out")
case("run_out_file", ["run", "--out", "file"], "file")
case("run_out_under_file", ["run", "--out", "file/sub"], "file")
case("run_out_sweep_runs", ["run", "--out", "sweep/runs"], "sweep")
case("run_out_inside_sweep_runs", ["run", "--out", "sweep/runs/x"], "sweep")
case("run_unknown_flag", ["run", "--colour", "red"], "--colour")
case("run_months_env_ceiling", ["run", "--months", "61", *OUT], "ICSIM_MAX_MONTHS",
     {"ICSIM_MAX_MONTHS": "60"})

# -- compare
case("compare_nothing", ["compare", *OUT], "SCENARIO")
case("compare_unknown", ["compare", "baseline", "utopia", *OUT], "utopia")
case("compare_twice", ["compare", "baseline", "baseline", *OUT], "twice")
for value, culprit in (("0", "--replicates"), ("-1", "--replicates"),
                       ("100001", "ICSIM_MAX_REPLICATES"),
                       ("1000000000", "ICSIM_MAX_REPLICATES"), ("abc", "--replicates")):
    case(f"compare_replicates_{value}", ["compare", "baseline", "--replicates", value, *OUT],
         culprit)
for flag, value, culprit in (("--months", "0", "--months"), ("--months", "1201", "ceiling"),
                             ("--seed", "-1", "--seed"), ("--workers", "0", "--workers"),
                             ("--workers", "257", "ICSIM_MAX_WORKERS"),
                             ("--workers", "100000", "ICSIM_MAX_WORKERS"),
                             ("--format", "bmp", "bmp"), ("--engine", "warp", "warp")):
    case(f"compare_{flag}_{value}", ["compare", "baseline", flag, value, *OUT], culprit)
case("compare_set_bad", ["compare", "baseline", "--set", "turnover_rate=2", *OUT],
     "turnover_rate")
case("compare_out_empty", ["compare", "baseline", "--out", ""], "--out")
case("compare_out_file", ["compare", "baseline", "--out", "file"], "file")
case("compare_out_sweep_runs", ["compare", "baseline", "--out", "sweep/runs"], "sweep")
case("compare_runs_ceiling", ["compare", "baseline", "toolkit", "--replicates", "6", *OUT],
     "ICSIM_MAX_RUNS", {"ICSIM_MAX_RUNS": "10"})
case("compare_memory_ceiling", ["compare", "baseline", "--replicates", "100000", *OUT],
     "ICSIM_MAX_MEMORY_MB", {"ICSIM_MAX_MEMORY_MB": "100"})
for name, culprit in (("missing.toml", "missing.toml"), ("fifo.toml", "fifo.toml"),
                      ("dir.toml", "dir.toml"), ("big.toml", "ICSIM_MAX_TEXT_FILE_KB"),
                      ("latin1.toml", "latin1.toml")):
    case(f"compare_scenario_file_{name}", ["compare", "baseline", name, *OUT], culprit)
for name, (_, culprit) in BAD_SCENARIOS.items():
    case(f"compare_{name}", ["compare", "baseline", f"{name}.toml", *OUT], culprit)
for name, culprit in (("missing.parquet", "missing.parquet"), ("fifo.parquet", "fifo"),
                      ("/dev/zero", "/dev/zero"), ("empty_dir", "posterior.parquet"),
                      ("text.parquet", "text.parquet"),
                      ("big.parquet", "ICSIM_MAX_DATA_FILE_MB"),
                      *((f"{n}.parquet", c) for n, (_, c) in BAD_POSTERIORS.items())):
    case(f"compare_posterior_{name}", ["compare", "baseline", "--posterior", name, *OUT],
         culprit)

# -- national
for flag, value, culprit in (("--sites", "0", "--sites"), ("--sites", "100001", "ceiling"),
                             ("--sites", "abc", "--sites"), ("--replicates", "0", "--repl"),
                             ("--replicates", "100001", "ICSIM_MAX_REPLICATES"),
                             ("--months", "0", "--months"),
                             ("--months", "1000000000", "ICSIM_MAX_MONTHS"),
                             ("--seed", "-1", "--seed"),
                             ("--funding-rule", "lottery", "lottery"),
                             ("--funding-rule", "competitive,competitive", "twice"),
                             ("--budget", "-1", "--budget"), ("--budget", "nan", "--budget"),
                             ("--budget", "inf", "--budget"), ("--budget", "abc", "--budget"),
                             ("--approach", "utopia", "utopia"),
                             ("--approach", "missing.toml", "missing.toml"),
                             ("--approach", "fifo.toml", "fifo.toml"),
                             ("--approach", "s_lever_text.toml", "turnover_rate"),
                             ("--workers", "0", "--workers"),
                             ("--workers", "257", "ICSIM_MAX_WORKERS"),
                             ("--engine", "warp", "warp"), ("--country", "other", "other"),
                             ("--posterior", "p_unknown_column.parquet", "warp"),
                             ("--format", "gif", "gif")):
    case(f"national_{flag}_{value}", ["national", flag, value, *OUT], culprit)
case("national_sites_huge", ["national", "--sites", "100000000", *OUT], "ICSIM_MAX_SITES")
case("national_replicates_huge", ["national", "--replicates", "1000000000", *OUT],
     "ICSIM_MAX_REPLICATES")
case("national_workers_huge", ["national", "--workers", "100000", *OUT], "ICSIM_MAX_WORKERS")
case("sweep_workers_huge", ["sweep", "good.toml", "--workers", "100000", *OUT],
     "ICSIM_MAX_WORKERS")
case("run_seed_huge_negative", ["run", "--seed", "-99999999999999999999", *OUT], "--seed")
case("national_runs_ceiling", ["national", "--sites", "100000", "--replicates", "1000", *OUT],
     "ICSIM_MAX_RUNS")
case("national_out_empty", ["national", "--out", ""], "--out")
case("national_out_file", ["national", "--out", "file"], "file")
case("national_out_sweep_runs", ["national", "--out", "sweep/runs"], "sweep")
case("national_workers_and_scheduler",
     ["national", "--workers", "1", "--scheduler", "tcp://127.0.0.1:1", *OUT], "--scheduler")

# -- schedulers (refused before anything connects)
for address in ("not a url", "", "tcp://", "tcp://host", "tcp://host:0", "tcp://host:99999",
                "http://host:8786", "tcp://host:port", "tcp://ho st:8786", "tcp://:8786"):
    for command in (["national", *OUT], ["sweep", "good.toml", *OUT],
                    ["calibrate", "cal.toml", *OUT]):
        case(f"{command[0]}_scheduler_{address or 'empty'}",
             [*command, "--scheduler", address], "--scheduler")

# -- sweep
for name, culprit in (("missing.toml", "missing.toml"), ("/dev/zero", "/dev/zero"),
                      ("fifo.toml", "fifo.toml"), ("dir.toml", "dir.toml"),
                      ("empty_dir", "directory"), ("big.toml", "ICSIM_MAX_TEXT_FILE_KB"),
                      ("latin1.toml", "UTF-8"), ("", "experiment file")):
    case(f"sweep_file_{name or 'empty'}", ["sweep", name, *OUT], culprit)
for name, (_, culprit) in BAD_EXPERIMENTS.items():
    case(f"sweep_{name}", ["sweep", f"{name}.toml", *OUT], culprit)
case("sweep_samples_env_ceiling", ["sweep", "good.toml", *OUT], "ICSIM_MAX_SAMPLES",
     {"ICSIM_MAX_SAMPLES": "3"})
case("sweep_file_size_env_ceiling", ["sweep", "medium.toml", *OUT], "ICSIM_MAX_TEXT_FILE_KB",
     {"ICSIM_MAX_TEXT_FILE_KB": "1"})
case("sweep_memory_ceiling", ["sweep", "good.toml", *OUT], "ICSIM_MAX_MEMORY_MB",
     {"ICSIM_MAX_MEMORY_MB": "1"})
for flag, value, culprit in (("--workers", "0", "--workers"),
                             ("--workers", "257", "ICSIM_MAX_WORKERS"),
                             ("--workers", "x", "--workers"), ("--engine", "warp", "warp"),
                             ("--posterior", "p_text_values.parquet", "turnover_rate"),
                             ("--posterior", "/dev/zero", "/dev/zero")):
    case(f"sweep_{flag}_{value}", ["sweep", "good.toml", flag, value, *OUT], culprit)
for value in ("0", "-1", "nan", "inf", "1e12", "x"):
    case(f"sweep_run_timeout_{value}", ["sweep", "good.toml", "--run-timeout", value, *OUT],
         "--run-timeout")
    case(f"national_run_timeout_{value}", ["national", "--run-timeout", value, *OUT],
         "--run-timeout")
for command in (["run"], ["compare", "baseline"], ["national"], ["sweep", "good.toml"],
                ["calibrate", "cal.toml"]):
    case(f"{command[0]}_out_name_too_long", [*command, "--out", "a/b/" + "x" * 300],
         "--out")
    case(f"{command[0]}_out_path_too_deep", [*command, "--out", "/".join(["y" * 200] * 30)],
         "--out")
case("sweep_out_empty", ["sweep", "good.toml", "--out", ""], "--out")
case("sweep_out_file", ["sweep", "good.toml", "--out", "file"], "file")
case("sweep_out_under_file", ["sweep", "good.toml", "--out", "file/x"], "file")
case("sweep_out_sweep_runs", ["sweep", "good.toml", "--out", "sweep/runs"], "sweep")
case("sweep_out_not_a_sweep", ["sweep", "good.toml", "--out", "not_a_sweep"], "not a sweep")
case("sweep_resume_nothing", ["sweep", "good.toml", "--out", "empty_dir", "--resume"],
     "--resume")
case("sweep_resume_other_experiment",
     ["sweep", "outcome_unknown.toml", "--out", "sweep", "--resume"], "happiness")

# -- inputs counted before work: posterior rows, [[changes]]; changes after the horizon
for command in (["compare", "baseline"], ["national"], ["sweep", "good.toml"]):
    case(f"{command[0]}_posterior_draws_ceiling",
         [*command, "--posterior", "posterior.parquet", *OUT], "ICSIM_MAX_POSTERIOR_DRAWS",
         {"ICSIM_MAX_POSTERIOR_DRAWS": "10"})
    case(f"{command[0]}_posterior_duplicate_columns",
         [*command, "--posterior", "p_duplicate_columns.parquet", *OUT], "twice")
case("compare_changes_ceiling", ["compare", "baseline", "two_changes.toml", *OUT],
     "ICSIM_MAX_CHANGES", {"ICSIM_MAX_CHANGES": "1"})
case("national_changes_ceiling", ["national", "--approach", "two_changes.toml", *OUT],
     "ICSIM_MAX_CHANGES", {"ICSIM_MAX_CHANGES": "1"})
case("compare_change_after_horizon", ["compare", "baseline", "late.toml", "--months", "12",
                                      *OUT], "month 24")
case("national_change_after_horizon", ["national", "--approach", "late.toml", "--months",
                                       "12", *OUT], "month 24")

# -- one line whatever the input holds; non-ASCII digits in a ceiling
case("run_set_newline", ["run", "--set", "warp\nspeed=1", *OUT], "warp")
case("compare_scenario_newline", ["compare", "baseline\nutopia", *OUT], "utopia")
case("run_scenario_newline", ["run", "--scenario", "baseline\nutopia", *OUT], "utopia")
case("run_months_superscript_ceiling", ["run", "--months", "1201", *OUT], "ICSIM_MAX_MONTHS",
     {"ICSIM_MAX_MONTHS": "\u00b2"})

# -- deeply nested TOML: one line from every reader, never a RecursionError
for name in ("deep_arrays", "deep_tables", "deep_value"):
    case(f"sweep_{name}", ["sweep", f"{name}.toml", *OUT], "nested")
    case(f"compare_{name}", ["compare", "baseline", f"{name}.toml", *OUT], "nested")
    case(f"national_{name}", ["national", "--approach", f"{name}.toml", *OUT], "nested")
    case(f"calibrate_{name}", ["calibrate", f"{name}.toml", *OUT], "nested")

# -- symbolic links inside --out: nothing is written through one
for name, (link, _) in SYMLINKS.items():
    case(f"sweep_resume_{name}", ["sweep", "good.toml", "--out", name, "--resume"],
         f"{name}/{link} is a symbolic link")
    case(f"analyze_{name}", ["analyze", name], f"{name}/{link}")
case("national_link_runs", ["national", "--out", "link_runs"], "link_runs/runs is a symbolic")
case("calibrate_resume_link_history", ["calibrate", "cal.toml", "--out", "cal_link",
                                       "--resume"], "cal_link/history.db is a symbolic link")

# -- analyze
case("analyze_missing", ["analyze", "nowhere"], "nowhere")
case("analyze_file", ["analyze", "file"], "file")
case("analyze_empty_dir", ["analyze", "empty_dir"], "holds no sweep")
for value, culprit in (("0", "--resamples"), ("-1", "--resamples"),
                       ("100001", "ICSIM_MAX_RESAMPLES"),
                       ("1000000000", "ICSIM_MAX_RESAMPLES"), ("abc", "--resamples")):
    case(f"analyze_resamples_{value}", ["analyze", "sweep", "--resamples", value], culprit)
case("analyze_format", ["analyze", "sweep", "--format", "gif"], "gif")
case("analyze_threshold_alone", ["analyze", "sweep", "--prim-threshold", "0.3"],
     "--prim-outcome")
case("analyze_above_alone", ["analyze", "sweep", "--prim-above"], "--prim-outcome")
case("analyze_prim_unknown", ["analyze", "sweep", "--prim-outcome", "happiness"], "happiness")
case("analyze_threshold_text", ["analyze", "sweep", "--prim-outcome", "pilot",
                                "--prim-threshold", "x"], "--prim-threshold")
case("analyze_threshold_nan", ["analyze", "sweep", "--prim-outcome", "pilot",
                               "--prim-threshold", "nan"], "--prim-threshold")
case("analyze_manifest_outcome_path", ["analyze", "evil_outcome"], "x/../../../../y")
case("analyze_manifest_name_path", ["analyze", "evil_name"], "'name'")
case("analyze_manifest_samples", ["analyze", "evil_samples"], "'samples'")

# -- calibrate
for name, culprit in (("missing.toml", "missing.toml"), ("/dev/zero", "/dev/zero"),
                      ("fifo.toml", "fifo.toml"), ("dir.toml", "dir.toml"),
                      ("big.toml", "ICSIM_MAX_TEXT_FILE_KB"), ("latin1.toml", "UTF-8")):
    case(f"calibrate_file_{name}", ["calibrate", name, *OUT], culprit)
for name, (_, culprit) in BAD_CALIBRATIONS.items():
    case(f"calibrate_{name}", ["calibrate", f"{name}.toml", *OUT], culprit)
case("calibrate_workers_zero", ["calibrate", "cal.toml", "--workers", "0", *OUT], "--workers")
case("calibrate_workers_huge", ["calibrate", "cal.toml", "--workers", "100000", *OUT],
     "ICSIM_MAX_WORKERS")
case("calibrate_out_empty", ["calibrate", "cal.toml", "--out", ""], "--out")
case("calibrate_out_file", ["calibrate", "cal.toml", "--out", "file"], "file")
case("calibrate_out_sweep_runs", ["calibrate", "cal.toml", "--out", "sweep/runs"], "sweep")
case("calibrate_resume_nothing", ["calibrate", "cal.toml", "--out", "empty_dir", "--resume"],
     "resume")

# -- params, scenarios, dashboard, the command itself
case("params_group", ["params", "--group", "knob"], "knob")
case("params_extra", ["params", "extra"], "extra")
case("scenarios_extra", ["scenarios", "extra"], "extra")
for value, culprit in (("0", "--port"), ("70000", "--port"), ("-1", "--port"),
                       ("abc", "--port")):
    case(f"dashboard_port_{value}", ["dashboard", "--port", value], culprit)
case("no_command", [], "command")
case("unknown_command", ["explode"], "explode")


@pytest.mark.parametrize(("argv", "culprit", "env"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hostile_input_is_refused_in_one_line_and_writes_nothing(
        tree, capsys, monkeypatch, argv, culprit, env):
    refused(tree, argv, culprit, capsys, monkeypatch, env)


def test_the_suite_is_large_and_covers_every_command_and_file_type():
    assert len(CASES) >= 150
    commands = {c[1][0] for c in CASES if c[1]}
    assert {"run", "sweep", "compare", "national", "analyze", "calibrate", "params",
            "scenarios", "dashboard"} <= commands
    assert len({c[0] for c in CASES}) == len(CASES)  # every id distinct


@pytest.mark.slow
def test_the_good_fixtures_are_accepted(tree, capsys, monkeypatch):
    """The bad cases are bad because of their edit: the same files unedited pass."""
    from sim.core.scenarios import load_scenario_file
    from sim.experiment.spec import load_experiment
    from sim.studies.calibration.spec import load_calibration

    load_experiment(tree / "good.toml")
    load_scenario_file(tree / "late.toml")
    load_calibration(tree / "cal.toml")
    from sim.experiment.spec import parse_experiment

    parse_experiment(P)
    assert parse_experiment(E + GOOD_SERIES).timeseries is not None
    assert parse_experiment(P + '[timeseries]\noutcomes = ["z"]\nmonths = [1, 6]\n'
                            ).timeseries is not None
    monkeypatch.chdir(tree)
    assert main(["compare", "baseline", "late.toml", "--replicates", "2", "--months", "30",
                 "--posterior", "posterior.parquet", "--quiet", "--out",
                 str(tree.parent / "compare_ok")]) == 0
    assert "pilot" in (tree.parent / "compare_ok" / "comparison.md").read_text()


@pytest.mark.slow
def test_the_plan_is_printed_before_a_long_command_starts(tmp_path, capsys, monkeypatch):
    """One line: runs, memory and output, before any run; --quiet prints nothing."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.toml").write_text(GOOD_EXPERIMENT)
    assert main(["sweep", "good.toml", "--out", "s", "--workers", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("plan: 8 runs, about ") and "memory" in out[0]
    assert "written" in out[0]
    assert main(["national", "--sites", "5", "--replicates", "2", "--months", "12",
                 "--funding-rule", "none,competitive", "--workers", "1", "--quiet",
                 "--out", "n"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["compare", "baseline", "toolkit", "--replicates", "3", "--months", "12",
                 "--workers", "1", "--out", "c"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("plan: 6 runs, about ")


def test_a_raised_ceiling_is_honoured(tmp_path, capsys, monkeypatch):
    """ICSIM_MAX_MONTHS raises the ceiling deliberately: 1,300 months then run."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ICSIM_MAX_MONTHS", "1300")
    assert main(["run", "--months", "1300", "--out", "r"]) == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["months"] == 1300


def test_the_plan_counts_a_posteriors_draws(tree):
    """The draws are held in memory: the plan counts them from the file's footer."""
    from sim.experiment.inputs import posterior_shape
    from sim.experiment.spec import load_experiment
    from sim.ui.commands import experiment_plan

    experiment = load_experiment(tree / "good.toml")
    bare = experiment_plan(experiment, 1)
    draws, columns = posterior_shape(tree / "posterior.parquet")
    assert draws == len(pd.read_parquet(tree / "posterior.parquet")) and columns > 0
    planned = experiment_plan(experiment, 1, None, str(tree / "posterior.parquet"))
    assert planned.memory_bytes - bare.memory_bytes >= draws * columns * 100


def test_60000_listed_values_are_checked_for_duplicates_in_linear_time():
    """The duplicate check is one pass (it was quadratic: 80 s for 60,000 values)."""
    import time

    from sim.experiment.spec import parse_experiment

    values = ", ".join(str(i) for i in range(60_000))
    started = time.perf_counter()
    exp = parse_experiment(_edit(P, "x1 = [0.0, 1.0]", f"x1 = {{ values = [{values}] }}"))
    assert time.perf_counter() - started < 10
    assert len(exp.levers[0].values) == 60_000


def test_resamples_past_the_ceiling_leave_no_analysis_folder(tree):
    """From Python too: ``analyze(resamples=10**9)`` is refused before analysis/ exists."""
    from sim.core.errors import UsageError
    from sim.report.analysis import analyze

    with pytest.raises(UsageError, match="resamples"):
        analyze(tree / "sweep", resamples=10**9)
    assert not (tree / "sweep" / "analysis").exists()


# --------------------------------------------------------------------- not a Dask scheduler
@pytest.fixture
def not_dask():
    """Two loopback servers that are not Dask schedulers: one silent (as an HTTP server
    waiting for a request), one greeting with a banner (as SSH does)."""
    import socket
    import threading

    servers, ports = [], {}
    for kind, banner in (("silent", b""), ("banner", b"SSH-2.0-OpenSSH_9.6\r\n")):
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)
        ports[kind] = server.getsockname()[1]

        def serve(server=server, banner=banner) -> None:
            held = []
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                if banner:
                    conn.sendall(banner)
                held.append(conn)

        threading.Thread(target=serve, daemon=True).start()
    yield ports
    for server in servers:
        server.close()


@pytest.mark.slow
def test_a_scheduler_that_is_not_dask_is_one_line_for_every_command(
        tree, not_dask, capsys, monkeypatch):
    """An HTTP-like server (silent: no hang, a timeout), a service with a banner (no
    exabyte allocation), tls:// without certificates, ucx:// without ucx-py and an
    inproc:// address of no cluster here: one line each, exit 2, nothing written."""
    from sim.experiment import execute

    monkeypatch.setattr(execute, "PROBE_TIMEOUT", 0.5)
    addresses = {f"tcp://127.0.0.1:{not_dask['silent']}": "no Dask scheduler answered",
                 f"tcp://127.0.0.1:{not_dask['banner']}": "not Dask's",
                 f"tls://127.0.0.1:{not_dask['silent']}": "certificates",
                 f"ucx://127.0.0.1:{not_dask['silent']}": "ucx-py",
                 "inproc://192.0.2.1/1/1": "inside this process"}
    for address, culprit in addresses.items():
        for command in (["sweep", "good.toml"], ["national"], ["calibrate", "cal.toml"]):
            refused(tree, [*command, "--scheduler", address, *OUT, "--quiet"], culprit,
                    capsys, monkeypatch)


def test_python_api_refuses_a_malformed_scheduler_at_once(tmp_path):
    """``run_sweep(..., scheduler="not a url")`` is refused before connecting (no 10 s wait
    for a scheduler that cannot exist) and leaves no directory behind."""
    import time

    from sim.core.errors import UsageError
    from sim.experiment.sweep import run_sweep

    (tmp_path / "good.toml").write_text(GOOD_EXPERIMENT)
    started = time.perf_counter()
    with pytest.raises(UsageError, match="--scheduler"):
        run_sweep(tmp_path / "good.toml", tmp_path / "out", scheduler="not a url",
                  progress=False)
    assert time.perf_counter() - started < 5
    assert not (tmp_path / "out").exists()
    with pytest.raises(UsageError, match="ICSIM_MAX_WORKERS"):
        run_sweep(tmp_path / "good.toml", tmp_path / "out", workers=100_000, progress=False)
    assert not (tmp_path / "out").exists()


def test_an_unnamed_experiment_takes_its_file_stem_as_an_identifier(tmp_path):
    from sim.experiment.spec import load_experiment

    path = tmp_path / "my-exp.toml"
    path.write_text(GOOD_EXPERIMENT.replace('name = "good"\n', ""))
    assert load_experiment(path).name == "my_exp"

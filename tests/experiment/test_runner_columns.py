"""The runner's columnar path (issue 24, item 1): the same seeds and the same runs as the
per-run path it replaces, bit for bit."""

from __future__ import annotations

import numpy as np

from sim.core.registry import PARAMETERS, resolve
from sim.engine.layout import pack_many
from sim.experiment.design import run_seed, run_seeds
from sim.experiment.models import (
    STATUSES,
    Batch,
    BatchResult,
    ModelCall,
    Rows,
    _pack_column,
    run_batch,
)
from sim.experiment.timeout import PREFIX


def test_run_seeds_are_run_seed_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    points = np.concatenate([rng.integers(0, 2**31, 300), rng.integers(0, 2**63, 30),
                             [0, 1, 2**32 - 1, 2**32]])
    replicates = np.concatenate([rng.integers(0, 500, 300), rng.integers(0, 2**63, 30),
                                 [0, 2**32, 3, 0]])
    for seed in (0, 3, 2**32 - 1, 2**32, 2**40 + 5, 2**63 - 1):
        expected = [run_seed(seed, int(p), int(r)) for p, r in zip(points, replicates,
                                                                    strict=True)]
        assert run_seeds(seed, points, replicates).tolist() == expected


def test_rows_read_as_the_dicts_the_runner_always_passed() -> None:
    columns = {"turnover_rate": np.array([0.1, 0.2, 0.3]),
               "team_size": np.array([10, 12, 14]),
               "small_tasks": np.array(["never", "triggered", "never"], dtype=object)}
    draws = [{"turnover_rate": 0.5, "clinical_leadership": 0.4},
             {"turnover_rate": 0.6, "clinical_leadership": 0.7}]
    rows = Rows(columns, 3, draws, np.array([1, 0, 1]))
    assert rows[0] == {"turnover_rate": 0.1, "clinical_leadership": 0.7, "team_size": 10,
                       "small_tasks": "never"}
    assert type(rows[0]["team_size"]) is int
    part = rows[1:3]
    assert list(part) == [rows[1], rows[2]] and len(part.draws or []) == 2


def test_packed_columns_equal_packed_rows_and_refuse_what_validation_refuses() -> None:
    values = np.array([0.0, -0.0, 0.25, 1.5, np.nan])
    packed, ok = _pack_column(PARAMETERS["turnover_rate"], values)
    assert ok.tolist() == [True, True, True, False, False]
    for v, p in zip(values[:3], packed[:3], strict=True):
        expected = pack_many([resolve({"turnover_rate": float(v)})])["turnover_rate"][0]
        assert np.float64(p).tobytes() == np.float64(expected).tobytes()
    packed, ok = _pack_column(PARAMETERS["team_size"], np.array([-0.0, 12.0, 12.5]))
    assert ok.tolist()[1:] == [True, False]  # 12.5 is no whole number


def test_a_batch_of_columns_runs_as_a_batch_of_dicts_with_a_bad_run_recorded() -> None:
    columns = {"turnover_rate": np.array([0.05, 0.2, 7.0, 0.3]),
               "team_size": np.array([10, 12, 14, 9])}
    seeds = [11, 12, 13, 14]
    call = ModelCall("icsim", ("pilot", "time_to_pilot", "final_progress"), months=30)
    rows = Rows(columns, 4)
    by_columns = run_batch(call, Batch(0, 0, rows, seeds))
    by_dicts = run_batch(call, Batch(0, 0, list(rows), seeds))
    assert by_columns.ok.tolist() == by_dicts.ok.tolist() == [True, True, False, True]
    assert by_columns.errors == by_dicts.errors
    assert np.nan_to_num(by_columns.values).tobytes() == np.nan_to_num(by_dicts.values).tobytes()


def test_status_codes_name_each_runs_status() -> None:
    ok = np.array([True, False, False, False, True])
    invalid = np.array([False, True, False, False, False])
    errors = [None, "invalid: outcome 'x' is inf", f"{PREFIX} past 2 s", "ValueError: no",
              None]
    result = BatchResult(0, 0, ok, errors, np.zeros((5, 1)), invalid)
    assert [STATUSES[c] for c in result.status_codes] == ["ok", "invalid", "timeout",
                                                          "failed", "ok"]
    every_ok = BatchResult(0, 0, np.ones(3, dtype=bool), [None] * 3, np.zeros((3, 1)))
    assert [STATUSES[c] for c in every_ok.status_codes] == ["ok"] * 3
    assert every_ok.status_codes.dtype == np.int8

"""The national view's columnar form (issue 24): a batch of sites run from columns gives
the runs and outcomes of the per-run form, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from sim.experiment.design import make_design
from sim.experiment.models import ModelCall, Rows, run_batch
from sim.experiment.posterior import CASE_POSTERIOR
from sim.studies import national


@pytest.mark.slow
@pytest.mark.parametrize(("country", "posterior"), [("redraw", False), ("fixed", True)])
def test_columns_give_the_per_run_outcomes_bit_for_bit(country: str, posterior: bool) -> None:
    spec = national.check(sites=30, approach="baseline+toolkit",
                          rules="competitive,universal_small", replicates=3, seed=4,
                          months=36, country=country,
                          posterior=str(CASE_POSTERIOR) if posterior else None)
    experiment = spec.experiment()
    design = make_design(experiment)
    columns = design.run_columns(0, design.n_runs)
    rows = Rows({name: columns[name] for name in design.names}, design.n_runs)
    constants = dict(experiment.constants)
    out = national._site_run_columns(rows.value_columns(), constants)
    expected = national._site_run_batch([{**constants, **rows[i]} for i in range(len(rows))],
                                        columns["seed"].tolist())
    for name in national.SITE_OUTCOMES:
        got = np.asarray(out[name], dtype=float)
        want = np.array([e[name] for e in expected], dtype=float)
        assert got.tobytes() == want.tobytes(), name


def test_the_runner_takes_the_columnar_form() -> None:
    spec = national.check(sites=12, replicates=2, seed=1, months=24)
    experiment = spec.experiment()
    design = make_design(experiment)
    columns = design.run_columns(0, design.n_runs)
    rows = Rows({name: columns[name] for name in design.names}, design.n_runs)
    call = ModelCall(experiment.model, experiment.outcomes, months=24,
                     constants=dict(experiment.constants))
    from sim.experiment.models import Batch

    by_columns = run_batch(call, Batch(0, 0, rows, columns["seed"].tolist()))
    by_rows = run_batch(call, Batch(0, 0, list(rows), columns["seed"].tolist()))
    assert by_columns.ok.all() and by_rows.ok.all()
    assert by_columns.values.tobytes() == by_rows.values.tobytes()

"""method = "npe": dequantised boxes, training on a toy table whose features reveal the
parameters, a one-line refusal without the extra, and a small calibration end to end.
The tests that train need the optional extra (``pip install -e '.[sbi]'``)."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from sim.core.errors import UsageError
from sim.core.registry import PARAMETERS
from sim.studies.calibration import npe, priors
from sim.studies.calibration.spec import parse_calibration

TOY = """
name = "toy"
seed = 5
infer = "listed"
simulations = 3000
accept = 400
chunk = 1000
[[targets]]
name = "T1"
statistic = "pilot_month"
min = 30
max = 42
[priors]
progress_rate = [0.05, 0.3]
collapse_months = "plausible"
pilot_scope = ["scaled", "chance"]
"""


def toy_spec(**changes: str):
    text = textwrap.dedent(TOY)
    for old, new in changes.items():
        text = text.replace(old, new)
    return parse_calibration(text)


def test_box_round_trip_keeps_integers_and_the_forms_codes():
    spec = toy_spec()
    box = npe.Box.of(spec)
    params, _ = priors.chunk(spec, priors.REFERENCE, 0, 1000)
    u = box.to_unit(params, np.random.default_rng(0))
    assert u.shape == (1000, 3) and (u > 0).all() and (u < 1).all()
    back = box.from_unit(u, priors.base(spec))
    for name in spec.inferred:
        np.testing.assert_allclose(back[name], params[name], rtol=0, atol=1e-9)
    # dequantised discrete entries are uniform on (0, 1): each value a bin of equal width
    k = spec.inferred.index("collapse_months")
    assert abs(u[:, k].mean() - 0.5) < 0.05
    codes = {PARAMETERS["pilot_scope"].choices.index(f) for f in ("scaled", "chance")}
    assert set(np.unique(back["pilot_scope"]).astype(int)) == codes


def test_without_the_extra_npe_refuses_in_one_line_and_writes_nothing(monkeypatch,
                                                                     tmp_path):
    from sim.studies.calibration.run import calibrate

    monkeypatch.setitem(sys.modules, "sbi", None)
    monkeypatch.setitem(sys.modules, "sbi.inference", None)
    with pytest.raises(UsageError, match=r"pip install -e '\.\[sbi\]'"):
        npe.check_installed()
    spec = toy_spec(**{'name = "toy"': 'name = "toy"\nmethod = "npe"'})
    with pytest.raises(UsageError, match="optional extra"):
        calibrate(spec, tmp_path / "out", workers=1, progress=False)
    assert not (tmp_path / "out").exists()


def toy_table(spec, params, rng):
    """Features that reveal the parameters: progress_rate's place in its range, the
    collapse months' and whether the pilot scope is 'chance'."""
    u_rate = (params["progress_rate"] - 0.05) / 0.25
    u_months = (params["collapse_months"] - 3) / 6
    chance = params["pilot_scope"] == PARAMETERS["pilot_scope"].choices.index("chance")
    x = np.stack([u_rate + rng.normal(0, 0.02, len(params)), u_months,
                  chance.astype(float)], axis=1)
    return x.astype(np.float32)


@pytest.mark.slow
def test_npe_recovers_what_the_toy_features_reveal():
    pytest.importorskip("sbi")
    spec = toy_spec()
    rng = np.random.default_rng(1)
    params = priors.rows(spec, priors.REFERENCE, np.arange(3000), spec.simulations)
    table = toy_table(spec, params, rng)
    trained = npe.train(spec, params, table, max_epochs=60, stop_after_epochs=10,
                        batch_size=100, hidden_features=24, num_transforms=2, seed=0)
    assert trained.simulations == 3000 and trained.epochs >= 1 and trained.cpu_seconds > 0
    drawn = npe.sample(trained, np.array([0.8, 0.5, 1.0]), 400, seed=1)
    values = priors.as_values(spec, drawn)
    rate = values.progress_rate.to_numpy()
    # truth 0.25; the prior's 90% interval is 0.225 wide
    lo, hi = np.quantile(rate, [0.05, 0.95])
    assert lo < 0.25 < hi and hi - lo < 0.1
    months = values.collapse_months.to_numpy()
    assert ((months >= 3) & (months <= 9)).all()
    assert np.mean(np.abs(months - 6) <= 1) > 0.6
    assert (values.pilot_scope == "chance").mean() > 0.8
    assert set(values.pilot_scope) <= {"scaled", "chance"}
    # amortised: another case, other answers
    other = priors.as_values(spec, npe.sample(trained, np.array([0.2, 0.0, 0.0]), 400))
    assert other.progress_rate.median() < 0.15
    assert (other.pilot_scope == "scaled").mean() > 0.8


@pytest.mark.slow
def test_a_small_npe_calibration_runs_end_to_end(tmp_path):
    pytest.importorskip("sbi")
    from sim.report.calibration import write_report
    from sim.studies.calibration.run import calibrate

    spec = toy_spec(**{'name = "toy"': 'name = "toy"\nmethod = "npe"\ntraining = 2000\n'
                       'epochs = 3\ncoverage_cases = 4'})
    assert spec.method == "npe" and spec.training == 2000 and spec.epochs == 3
    result = calibrate(spec, tmp_path / "out", workers=1, progress=False)
    assert result.method == "npe" and len(result.posterior) == spec.accept
    assert set(result.posterior.columns) == set(spec.inferred)
    assert result.posterior.collapse_months.between(3, 9).all()
    assert result.extra["training"]["simulations"] == 2000
    assert result.coverage is not None and result.coverage.case.nunique() == 4
    write_report(result)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "neural posterior estimation" in summary
    assert not (tmp_path / "sbi-logs").exists()

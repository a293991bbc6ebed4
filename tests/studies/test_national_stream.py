"""icsim national's outputs gathered part by part (issue 24): the same numbers, bit for bit,
as the whole-frame computation they replace, which is kept here as the oracle."""

import io
import math
import threading
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from sim.analysis.stats import all_pairs, mean_ci
from sim.studies import national
from sim.studies.national_variance import variance_table
from sim.ui.cli import main

# ------------------------------------------------------------------ the oracle
# monthly, rule_table and rule_pairs as they were before the outputs were streamed
# (main at 23203a6): every run read back into one frame, then grouped by pandas.


def old_monthly(sites: pd.DataFrame, months: int) -> pd.DataFrame:
    rows = []
    for rule, by_rule in sites.groupby("rule", sort=False):
        for month in range(months + 1):
            row = {"rule": rule, "month": month}
            for group, mask in (("all", slice(None)), ("funded", by_rule.funded),
                                ("unfunded", ~by_rule.funded)):
                part = by_rule[mask] if group != "all" else by_rule
                for gate, col in (("pilot", "pilot_month"),
                                  ("commissioned", "commissioned_month"),
                                  ("integrated", "integrated_month")):
                    reached = (part[col] <= month).groupby(part.replicate).mean().to_numpy() \
                        if len(part) else np.array([])
                    mean, lo, hi = mean_ci(reached.astype(float))
                    row[f"{gate}_{group}"] = mean
                    row[f"{gate}_{group}_lo"] = lo
                    row[f"{gate}_{group}_hi"] = hi
            rows.append(row)
    return pd.DataFrame(rows)


def old_rule_table(sites: pd.DataFrame, budget: float) -> pd.DataFrame:
    rows = []
    for rule, part in sites.groupby("rule", sort=False):
        per_rep = part.groupby("replicate")
        piloted = part.outcome.isin(["pilot", "integrated"])
        pilot, lo, hi = mean_ci(piloted.groupby(part.replicate).mean().to_numpy(dtype=float))
        integ, ilo, ihi = mean_ci((part.outcome == "integrated").groupby(part.replicate)
                                  .mean().to_numpy(dtype=float))
        comm, clo, chi = mean_ci(per_rep.commissioned_month.apply(
            lambda c: c.notna().mean()).to_numpy(dtype=float))
        money = {f"{name}_per_replicate": float(per_rep[name].sum().mean())
                 for name in national.SITE_MONEY}
        money["balance_per_replicate"] = (
            money["allocated_per_replicate"] + money["approach_money_per_replicate"]
            + money["local_committed_per_replicate"] + money["pooled_per_replicate"]
            - money["withdrawn_per_replicate"] - money["spent_per_replicate"]
            - money["unspent_per_replicate"])
        funded, unfunded = piloted[part.funded], piloted[~part.funded]
        spent = float(part.groupby("replicate").funding_received.sum().mean())
        sites_at_pilot = float(piloted.groupby(part.replicate).sum().mean())

        def share(mask, part=part):
            sub = part[mask]
            if not len(sub):
                return float("nan"), float("nan"), float("nan")
            return mean_ci(sub.outcome.isin(["pilot", "integrated"]).groupby(
                sub.replicate).mean().to_numpy(dtype=float))

        f_mean, f_lo, f_hi = share(part.funded)
        u_mean, u_lo, u_hi = share(~part.funded)
        rows.append({
            "rule": rule, "sites": int(part.site.nunique()),
            "replicates": int(part.replicate.nunique()),
            "funded_sites": int(part[part.replicate == part.replicate.min()].funded.sum()),
            "p_pilot": pilot, "p_pilot_lo": lo, "p_pilot_hi": hi,
            "p_integrated": integ, "p_integrated_lo": ilo, "p_integrated_hi": ihi,
            "p_commissioned": comm, "p_commissioned_lo": clo, "p_commissioned_hi": chi,
            "p_pilot_funded": float(funded.mean()) if len(funded) else float("nan"),
            "p_pilot_unfunded": float(unfunded.mean()) if len(unfunded) else float("nan"),
            "p_pilot_funded_lo": f_lo, "p_pilot_funded_hi": f_hi,
            "p_pilot_unfunded_lo": u_lo, "p_pilot_unfunded_hi": u_hi,
            "budget": budget, "national_per_replicate": spent,
            "cost_per_pilot_site": spent / sites_at_pilot if sites_at_pilot else float("nan"),
            **money,
        })
    table = pd.DataFrame(rows)
    per = sites.assign(piloted=sites.outcome.isin(["pilot", "integrated"])).groupby(
        ["rule", "replicate"], sort=False).piloted.mean()
    first = table.rule.iloc[0]
    for key in ("d_p_pilot", "d_p_pilot_lo", "d_p_pilot_hi"):
        table[key] = float("nan")
    for i, rule in enumerate(table.rule):
        if i == 0:
            continue
        d = (per.loc[rule] - per.loc[first]).to_numpy(dtype=float)
        mean = float(d.mean())
        half = (stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
                if d.size > 1 else float("nan"))
        table.loc[i, ["d_p_pilot", "d_p_pilot_lo", "d_p_pilot_hi"]] = \
            [mean, mean - half, mean + half]
    return table


def old_pairs(sites: pd.DataFrame) -> pd.DataFrame:
    per = sites.assign(piloted=sites.outcome.isin(["pilot", "integrated"])).groupby(
        ["rule", "replicate"], sort=False).piloted.mean()
    rules = list(dict.fromkeys(sites.rule))
    if len(rules) < 3:
        return pd.DataFrame()
    return all_pairs({r: per.loc[r].sort_index().to_numpy(float) for r in rules})


def old_replicate_shares(sites: pd.DataFrame) -> pd.DataFrame:
    """sim.studies.national_variance.replicate_shares as it was (main at 23203a6)."""
    return (sites.assign(pilot=sites.outcome.isin(["pilot", "integrated"]),
                         integrated=sites.outcome == "integrated")
            .groupby(["rule", "replicate"], sort=False)[["pilot", "integrated"]].mean()
            .reset_index())


def csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format="%.6g")
    return buffer.getvalue()


# ------------------------------------------------------------------ the tests
@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """4 rules x 3 replicates x 450 sites = 5,400 runs in parts of 4,000: the first part
    holds eight whole countries and the start of the ninth, which ends in the second
    part. (tests/studies/test_national.py resumes a run in parts of 400.)"""
    out = tmp_path_factory.mktemp("national_stream") / "nat"
    code = main(["national", "--sites", "450", "--replicates", "3", "--funding-rule",
                 "competitive,targeted,universal_small", "--seed", "5", "--months", "36",
                 "--point", "--workers", "2", "--quiet", "--format", "svg",
                 "--out", str(out)])
    assert code == 0
    return out


@pytest.mark.slow
def test_streamed_outputs_equal_the_whole_frame_computation(streamed):
    out = streamed
    spec = national.check(450, "baseline", "none,competitive,targeted,universal_small",
                          None, 3, 5, 36, country="redraw")
    runs = pd.read_parquet(out / "runs")
    sites = national.sites_frame(runs, spec.rules)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sites.parquet"), sites,
                                  check_exact=True)
    series = old_monthly(sites, 36)
    table = old_rule_table(sites, spec.total_budget)
    result = national.results(out, spec)
    pd.testing.assert_frame_equal(result.series, series, check_exact=True)
    pd.testing.assert_frame_equal(result.table, table, check_exact=True)
    shares = old_replicate_shares(sites)
    pd.testing.assert_frame_equal(result.replicate_shares, shares, check_exact=True)
    assert (out / "variance.csv").read_text() == csv(variance_table(shares, spec))
    assert (out / "national.csv").read_text() == csv(series)
    assert (out / "rules.csv").read_text() == csv(table)
    assert (out / "pairs.csv").read_text() == csv(old_pairs(sites))


@pytest.mark.slow
def test_sites_parquet_is_the_frames_arrow_table(streamed):
    """Built from codes, not from a frame: still the table pandas would write, its
    metadata and its nulls (a month never reached) included."""
    import pyarrow.parquet as pq

    spec = national.check(450, "baseline", "none,competitive,targeted,universal_small",
                          None, 3, 5, 36, country="redraw")
    sites = national.sites_frame(pd.read_parquet(streamed / "runs"), spec.rules)
    want = pa.Table.from_pandas(sites, preserve_index=False)
    got = pq.read_table(streamed / "sites.parquet")
    assert got.equals(want, check_metadata=True)
    assert got.column("pilot_month").null_count == sites.pilot_month.isna().sum() > 0


def test_a_part_with_a_rule_not_asked_for_is_named() -> None:
    part = pa.table({name: [1.0] for name in national._PART_COLUMNS})
    part = part.set_column(part.schema.get_field_index("rule"), "rule", pa.array(["lottery"]))
    with pytest.raises(ValueError, match="rule 'lottery', not one of none, competitive"):
        national._sites_columns(part, ("none", "competitive"))


def test_totals_equal_the_whole_frame_on_uneven_groups():
    """Groups of different sizes, a replicate without funded sites, months past the
    horizon and sites missing from some replicates: still the old numbers exactly."""
    rng = np.random.default_rng(7)
    rows = []
    for rule in ("universal_small", "none", "competitive"):
        for replicate in range(4):
            n = int(rng.integers(3, 30))
            site = np.sort(rng.choice(40, n, replace=False))
            funded = (rng.random(n) < 0.3) if rule == "competitive" and replicate != 1 \
                else np.full(n, rule == "universal_small")
            month = np.where(rng.random(n) < 0.5, np.nan, rng.integers(0, 30, n))
            rows.append(pd.DataFrame({
                "rule": rule, "replicate": replicate, "site": site, "funded": funded,
                "outcome": rng.choice(["pilot", "integrated", "stalled", "collapsed"], n),
                "pilot_month": month, "commissioned_month": month + 3,
                "integrated_month": month + 7,
                "funding_received": rng.random(n) * 3,
                **{name: rng.random(n) * 2 for name in national.SITE_MONEY}}))
    sites = pd.concat(rows, ignore_index=True)
    pd.testing.assert_frame_equal(national.monthly(sites, 24), old_monthly(sites, 24),
                                  check_exact=True)
    pd.testing.assert_frame_equal(national.rule_table(sites, 12.0),
                                  old_rule_table(sites, 12.0), check_exact=True)


def _part(i: int) -> pa.Table:
    columns = {name: [float(i)] for name in national._PART_COLUMNS}
    columns.update(status=["ok"], rule=["none"], extra=[1.0])
    return pa.table(columns)


def test_the_part_feed_yields_parts_in_run_order_and_stops_on_an_incomplete_sweep() -> None:
    """The outputs' thread reads parts while the sweep writes them, handed over in memory:
    in run order whatever order they are written in (only the columns the outputs read),
    the end only once the sweep has completed; a sweep that ended without a part, or
    incomplete, stops the reader (nothing is published)."""
    feed = national.PartFeed(3)
    got: list[pa.Table] = []
    reader = threading.Thread(target=lambda: got.extend(feed))
    reader.start()
    for chunk in (1, 0):  # written out of order
        feed.put(chunk, _part(chunk))
    time.sleep(0.05)
    assert [t.column("site")[0].as_py() for t in got] == [0.0, 1.0]
    assert got[0].column_names == list(national._PART_COLUMNS)
    feed.put(2, _part(2))
    time.sleep(0.05)
    assert reader.is_alive()  # every part is in, but the sweep has not ended: no end yet
    feed.finish(True)
    reader.join(5)
    assert not reader.is_alive() and len(got) == 3
    feed = national.PartFeed(2)
    feed.put(0, _part(0))
    feed.put(1, _part(1))
    feed.finish(False)
    with pytest.raises(national.RunsStopped, match="did not complete"):
        list(feed)
    feed = national.PartFeed(2)
    feed.put(0, _part(0))
    feed.finish(True)
    with pytest.raises(national.RunsStopped, match="part-000001.parquet was not written"):
        list(feed)


@pytest.mark.parametrize("ends", ["with a part", "without one"])
def test_the_outputs_thread_waits_for_the_first_part_or_the_end(ends: str) -> None:
    """Its imports wait until the runs are under way (they would hold back the sweep's
    first tasks), and a sweep that ends with no part does not leave it waiting."""
    feed = national.PartFeed(2)
    waiter = threading.Thread(target=feed.wait_for_runs)
    waiter.start()
    time.sleep(0.05)
    assert waiter.is_alive()
    if ends == "with a part":
        feed.put(1, _part(1))
    else:
        feed.finish(False)
    waiter.join(5)
    assert not waiter.is_alive()

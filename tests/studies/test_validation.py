"""icsim validate: the national view against evidence statements (issue 21)."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import (
    VALIDATION_BROKE,
    VALIDATION_PROGRAMME,
    VALIDATION_TINY,
    assert_refused,
    icsim,
)

from sim.core.errors import UsageError
from sim.studies import national, validation

ROOT = Path(__file__).resolve().parents[2]

CONFIG = VALIDATION_TINY
BROKE = VALIDATION_BROKE

#: A contrast no model of six months can meet: integration 50 points more common without
#: money than with it.
CONTRAST = """
[[statements]]
id = "contrast"
configuration = "tiny"
contrast = "broke"
statistic = "integrated"
month = 6
sites = "all"
low = 0.5
high = 1.0
source = "a test"
passage = "without money half the sites more integrate by month 6"
comparability = "direct"
mechanism = "integration needs a pilot first"
"""

PROGRAMME = VALIDATION_PROGRAMME

IMPOSSIBLE = """
[[statements]]
id = "impossible"
configuration = "tiny"
statistic = "integrated"
month = 6
sites = "all"
low = 0.99
high = 1.0
source = "a test"
passage = "every site integrated by month 6"
comparability = "direct"
mechanism = "integration needs a pilot, evaluation, commissioning and roll-out"
"""

TRIVIAL = """
[[statements]]
id = "trivial"
configuration = "tiny"
statistic = "collapsed"
month = 6
sites = "all"
low = 0.0
high = 1.0
source = "a test"
passage = "any share of sites collapsed by month 6"
comparability = "direct"
"""

APART = """
[[statements]]
id = "apart"
configuration = "tiny"
statistic = "pilot"
month = 6
sites = "funded"
low = 0.0
high = 1.0
source = "a test"
passage = "no number to compare"
comparability = "not comparable"
reason = "a test of the third verdict"
"""


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    path = root / "small.toml"
    path.write_text(CONFIG + BROKE + IMPOSSIBLE + TRIVIAL + APART + CONTRAST + PROGRAMME)
    out = root / "out"
    proc = icsim("validate", str(path), "--workers", "1", "--quiet", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.slow
def test_end_to_end_verdicts(validated):
    table = pd.read_csv(validated / "validation.csv").set_index("id")
    assert table.loc["impossible", "verdict"] == "inconsistent"
    assert table.loc["trivial", "verdict"] == "consistent"
    assert table.loc["apart", "verdict"] == "not comparable"
    assert table.loc["impossible", "model_hi"] < 0.99
    assert table.loc["contrast", "verdict"] == "inconsistent"
    assert table.loc["contrast", "model_hi"] < 0.5 and table.loc["contrast", "contrast"] == \
        "broke"
    assert table.loc["programme", "verdict"] == "consistent"
    text = (validated / "validation.md").read_text()
    assert "2 consistent, 2 inconsistent, 1 not comparable" in text
    assert "broke minus tiny, paired by replicate" in text
    assert "the programme took the readiest 25% of sites" in text
    assert "never used to fit" in text and "registry's point values" in text
    assert "integration needs a pilot" in text  # the mechanism of the inconsistency
    assert (validated / "validation_tiny.png").stat().st_size > 0
    # the programme's sites, recomputed from the run: the readiest 5 of 20 per replicate
    sites = validation.load_sites(validated / "tiny", validation.load_validation(
        validated.parent / "small.toml").configuration("tiny"))
    for _, part in sites.groupby("replicate"):
        assert part.programme.sum() == 5
        assert part[part.programme].readiness.min() >= part[~part.programme].readiness.max()
    assert (validated / "tiny" / "sites.parquet").exists()  # the national run's own outputs


@pytest.mark.slow
def test_rerun_resumes_and_a_changed_configuration_is_refused(validated):
    path = validated.parent / "small.toml"
    again = icsim("validate", str(path), "--workers", "1", "--quiet", "--resume",
                  "--out", str(validated))
    assert again.returncode == 0, again.stderr
    table = pd.read_csv(validated / "validation.csv").set_index("id")
    assert table.loc["impossible", "verdict"] == "inconsistent"
    changed = validated.parent / "changed.toml"
    changed.write_text(path.read_text().replace("sites = 20", "sites = 21"))
    before = sorted(p.name for p in validated.rglob("*"))
    refused = icsim("validate", str(changed), "--quiet", "--out", str(validated))
    assert refused.returncode == 2
    assert "--sites was 20, now 21" in refused.stderr
    assert sorted(p.name for p in validated.rglob("*")) == before


def test_verdict_rule():
    s = validation.Statement("x", "c", "pilot", 6, "all", 0.2, 0.4, "src", "p", "direct")
    assert validation.verdict(s, 0.1, 0.05, 0.2) == "consistent"  # touches the range
    assert validation.verdict(s, 0.1, 0.05, 0.15) == "inconsistent"
    assert validation.verdict(s, 0.5, math.nan, math.nan) == "inconsistent"  # one replicate
    assert validation.verdict(s, 0.3, math.nan, math.nan) == "consistent"


def test_report_names_the_funding_rule_by_its_label(tmp_path):
    from sim.report.validation import markdown

    path = tmp_path / "small.toml"
    path.write_text(CONFIG + TRIVIAL)
    spec = validation.load_validation(path)
    text = markdown(spec, pd.DataFrame(columns=["verdict"]), {"tiny": 3}, None, "", {})
    label = national.rule_label("competitive")
    assert label != "competitive"
    assert f"funding rule “{label}”" in text
    assert "`competitive`" not in text  # the identifier stays in files and options


def test_shipped_file_loads():
    spec = validation.load_validation(ROOT / "experiments" / "validate_national.toml")
    ids = [s.id for s in spec.statements]
    for sid in ("E1.3", "E1.4", "E1.5", "E1.6", "E2.3a", "E2.3b", "E2.4", "E2.5"):
        assert sid in ids
    assert {c.name for c in spec.configurations} == {"pioneers", "vanguards",
                                                      "vanguards_half_budget"}
    for conf in spec.configurations:  # every configuration is a valid national request
        validation.national_spec(conf, replicates=2)
    # E1.1: the Pioneers are the readiest ~12% (25 of ~211 areas); E1.3-E1.6 about them
    assert spec.configuration("pioneers").programme == validation.Programme(0.12, "readiness")
    by_id = {s.id: s for s in spec.statements}
    assert {by_id[f"E1.{i}"].sites for i in (3, 4, 5, 6)} == {"programme"}
    # E2.5: comparable, a contrast with half the budget that must come out lower
    e25 = by_id["E2.5"]
    assert e25.comparability != "not comparable" and e25.contrast == "vanguards_half_budget"
    assert e25.high < 0
    full, half = spec.configuration("vanguards"), spec.configuration("vanguards_half_budget")
    assert half.budget_per_site == pytest.approx(full.budget_per_site / 2)
    assert (half.approach, half.funding_rule) == (full.approach, full.funding_rule)


def _sites(shares_by_replicate, group="funded", n=10):
    """A synthetic sites.parquet: per replicate, ``n`` sites of which the given share
    piloted by month 5 (and never otherwise); all in ``group``."""
    rows = []
    for replicate, share in enumerate(shares_by_replicate):
        for site in range(n):
            rows.append({"rule": "competitive", "replicate": replicate, "site": site,
                         "funded": group == "funded", "outcome": "stalled",
                         "pilot_month": 5.0 if site < round(share * n) else math.nan,
                         **dict.fromkeys(("commissioned_month", "integrated_month",
                                          "small_tasks_month"), math.nan),
                         "readiness": float(site), "prior_work": float(n - site)})
    return pd.DataFrame(rows)


def test_contrast_is_paired_by_replicate():
    # the replicates differ a lot, the difference hardly: a paired interval is narrow
    base = _sites([0.2, 0.5, 0.8, 0.3])
    other = _sites([0.1, 0.4, 0.6, 0.2])
    s = validation.Statement("d", "a", "pilot", 6, "funded", -1.0, -0.02, "src", "p",
                             "proxy", contrast="b")
    mean, lo, hi = validation.model_value(s, {"a": base, "b": other})
    d = np.array([-0.1, -0.1, -0.2, -0.1])
    assert mean == pytest.approx(d.mean())
    half = 3.182446305284263 * d.std(ddof=1) / 2  # t(0.975, 3) x sd / sqrt(4)
    assert (lo, hi) == pytest.approx((d.mean() - half, d.mean() + half))
    assert validation.verdict(s, mean, lo, hi) == "consistent"
    # the other way round: the difference is positive, outside [-1, -0.02]
    flipped = validation.Statement("d", "b", "pilot", 6, "funded", -1.0, -0.02, "src", "p",
                                   "proxy", contrast="a")
    assert validation.verdict(flipped, *validation.model_value(
        flipped, {"a": base, "b": other})) == "inconsistent"
    # no difference at all (money that changes nothing) is inconsistent with 'lower'
    assert validation.verdict(s, *validation.model_value(s, {"a": base, "b": base})) == \
        "inconsistent"


def test_programme_by_readiness_is_the_competitive_rule():
    """``by = "readiness"`` at the funded share takes exactly the sites a competitive
    programme funds (one selection, ``national.chosen``, not a copy)."""
    country = national.draw_sites(200, 7, 3)
    funded = national.allocate("competitive", 100.0, country.readiness.to_numpy()) > 0
    sites = country.assign(rule="competitive", replicate=3, site=range(200))
    taken = validation.programme_mask(
        sites, validation.Programme(national.FUNDED_SHARE, "readiness"), seed=7)
    assert (taken.to_numpy() == funded).all()
    few = validation.programme_mask(sites, validation.Programme(0.12, "readiness"), 7)
    assert few.sum() == 24 and not (few & ~taken).any()  # the readiest 12% of the 22%
    by_work = validation.programme_mask(sites, validation.Programme(0.12, "prior_work"), 7)
    assert sites[by_work].prior_work.min() >= sites[~by_work].prior_work.max()


def test_random_programme_is_deterministic_from_the_seed():
    sites = _sites([0.5] * 2, n=50).assign(readiness=0.0)
    pick = validation.Programme(0.2, "random")
    first = validation.programme_mask(sites, pick, seed=1)
    assert (first == validation.programme_mask(sites, pick, seed=1)).all()
    assert not (first == validation.programme_mask(sites, pick, seed=2)).all()
    per = [set(p.site[first[p.index]]) for _, p in sites.groupby("replicate")]
    assert [len(p) for p in per] == [10, 10] and per[0] != per[1]  # a new draw a replicate


#: (what is wrong, replacement applied to IMPOSSIBLE, words the one line must contain)
BAD = [
    ("unknown statistic", ('statistic = "integrated"', 'statistic = "merged"'),
     ["'impossible'", "unknown statistic", "pilot, commissioned, integrated, small_tasks, "
      "collapsed"]),
    ("range above 1", ("high = 1.0", "high = 1.5"), ["'impossible'", "0 <= low <= high <= 1"]),
    ("range below 0", ("low = 0.99", "low = -0.1"), ["'impossible'", "0 <= low <= high <= 1"]),
    ("low > high", ("high = 1.0", "high = 0.5"), ["'impossible'", "0 <= low <= high <= 1"]),
    ("month beyond horizon", ("month = 6", "month = 7"), ["'impossible'", "[0, 6]", "tiny"]),
    ("missing source", ('source = "a test"', '#'), ["'impossible'", "missing source"]),
    ("empty source", ('source = "a test"', 'source = " "'), ["'impossible'", "missing source"]),
    ("unknown configuration", ('configuration = "tiny"', 'configuration = "huge"'),
     ["'impossible'", "unknown configuration 'huge'", "known: tiny"]),
    ("unknown sites", ('sites = "all"', 'sites = "some"'),
     ["'impossible'", "all, funded, programme"]),
    ("unknown contrast", ('configuration = "tiny"', 'configuration = "tiny"\ncontrast = "x"'),
     ["'impossible'", "contrast must name another configuration", "known: broke"]),
    ("contrast not a name", ('configuration = "tiny"',
                             'configuration = "tiny"\ncontrast = ["broke"]'),
     ["'impossible'", "contrast must name another configuration"]),
    ("configuration not a name", ('configuration = "tiny"', 'configuration = ["tiny"]'),
     ["'impossible'", "unknown configuration"]),
    ("contrast with itself", ('configuration = "tiny"',
                              'configuration = "tiny"\ncontrast = "tiny"'),
     ["'impossible'", "contrast must name another configuration"]),
    ("contrast range below -1", ('low = 0.99', 'low = -1.5\ncontrast = "broke"'),
     ["'impossible'", "-1 <= low <= high <= 1 (a difference of shares)"]),
    ("programme sites of a configuration with none", (
        'month = 6\nsites = "all"', 'month = 6\nsites = "programme"\ncontrast = "broke"'),
     ["'impossible'", "configuration 'broke'", "programme = { share"]),
    ("unknown comparability", ('comparability = "direct"', 'comparability = "close"'),
     ["'impossible'", "direct, proxy, not comparable"]),
    ("not comparable without reason", ('comparability = "direct"',
                                       'comparability = "not comparable"'),
     ["'impossible'", "'reason'"]),
]


@pytest.mark.parametrize("what,change,words", BAD, ids=[b[0] for b in BAD])
def test_bad_files_refused_in_one_line(tmp_path_factory, tmp_path, what, change, words):
    old, new = change
    assert old in IMPOSSIBLE
    path = tmp_path_factory.mktemp("bad") / "bad.toml"
    path.write_text(CONFIG + BROKE + IMPOSSIBLE.replace(old, new, 1))
    with pytest.raises(UsageError) as caught:
        validation.load_validation(path)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (what, message)
    assert_refused(tmp_path, ["validate", str(path), "--out", str(tmp_path / "out")],
                   words[0])


def test_collapse_only_at_the_horizon(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG + TRIVIAL.replace("month = 6", "month = 3"))
    with pytest.raises(UsageError, match="collapse is recorded at the horizon only"):
        validation.load_validation(path)


def test_posterior_and_point_exclusive(tmp_path_factory, tmp_path):
    path = tmp_path_factory.mktemp("ok") / "ok.toml"
    path.write_text(CONFIG + TRIVIAL)
    proc = icsim("validate", str(path), "--point", "--posterior", "x.parquet",
                 "--out", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert list(tmp_path.iterdir()) == []


BAD_CONFIG = [
    ("name not an identifier", ('name = "tiny"', 'name = "../up"'), "plain identifier"),
    ("unknown rule", ('funding_rule = "competitive"', 'funding_rule = "lottery"'),
     "none, competitive, targeted, universal_small"),
    ("negative budget", ("budget_per_site = 0.5", "budget_per_site = -1"),
     "budget_per_site must be a number >= 0"),
    ("no money note", ('money_note = "half a full pilot\'s cost per site."', ""),
     "'money_note'"),
    ("zero months", ("months = 6", "months = 0"), "'months' must be a whole number >= 1"),
    ("not TOML", ("[[configurations]]", "[[configurations]"), "not valid TOML"),
    ("programme share 0", ("share = 0.25", "share = 0"), "programme share must be a number "
     "in (0, 1]"),
    ("programme share above 1", ("share = 0.25", "share = 1.5"), "in (0, 1]"),
    ("programme by unknown", ('by = "readiness"', 'by = "luck"'),
     "readiness, prior_work, random"),
    ("programme unknown key", ('by = "readiness"', 'by = "readiness", size = 3'),
     "unknown key 'size'; allowed: share, by"),
    ("programme without by", ('share = 0.25, by = "readiness"', 'share = 0.25'),
     "programme by must be one of readiness, prior_work, random, got None"),
    ("programme not a table", ('programme = { share = 0.25, by = "readiness" }',
                               'programme = "readiest"'), "programme (a table"),
]


@pytest.mark.parametrize("what,change,words", BAD_CONFIG, ids=[b[0] for b in BAD_CONFIG])
def test_bad_configurations_refused_in_one_line(tmp_path_factory, tmp_path, what, change,
                                                words):
    old, new = change
    assert old in CONFIG
    path = tmp_path_factory.mktemp("badconf") / "bad.toml"
    path.write_text(CONFIG.replace(old, new, 1) + TRIVIAL)
    assert_refused(tmp_path, ["validate", str(path), "--out", str(tmp_path / "out")], words)


@pytest.mark.parametrize("key,value", [("sites", 21), ("seed", 1), ("replicates", 4)])
def test_contrast_needs_the_same_countries(tmp_path, key, value):
    path = tmp_path / "c.toml"
    old = {"sites": "sites = 20", "seed": "months = 6", "replicates": "replicates = 3"}[key]
    new = {"sites": "sites = 21", "seed": "months = 6\nseed = 1",
           "replicates": "replicates = 4"}[key]
    path.write_text(CONFIG + BROKE.replace(old, new, 1) + CONTRAST)
    with pytest.raises(UsageError) as caught:
        validation.load_validation(path)
    message = str(caught.value)
    assert "'contrast'" in message and f"'{key}' must be equal" in message
    assert "\n" not in message


@pytest.mark.slow
def test_posterior_is_carried_and_reported(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(CONFIG + TRIVIAL)
    out = tmp_path / "out"
    proc = icsim("validate", str(path), "--posterior",
                 str(ROOT / "data" / "case_posterior.parquet"), "--replicates", "2",
                 "--workers", "1", "--quiet", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = (out / "validation.md").read_text()
    assert "case_posterior.parquet" in text and "draw *r*" in text
    assert "2 replicates" in text
    manifest = (out / "tiny" / "manifest.json").read_text()
    assert "posterior_sha256" in manifest


def test_figure_draws_the_contrast_dashed():
    from sim.report import figures

    base, other = _sites([0.2, 0.5]), _sites([0.1, 0.4])
    series = {"a": validation.shares(base, 6), "b": validation.shares(other, 6)}
    s = validation.Statement("d", "a", "pilot", 6, "funded", -1.0, -0.02, "src", "p",
                             "proxy", contrast="b")
    table = validation.verdicts(validation.ValidationFile(
        Path("x.toml"), "x", "", "", (), (s,)), {"a": base, "b": other})
    fig = figures.validation_figure(series["a"], table, "a", series)
    funded = fig.axes[1]
    assert funded.get_title() == "funded sites"
    dashed = [line for line in funded.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_label() for line in dashed] == ["pilot: b"]
    assert list(dashed[0].get_ydata())[-1] == pytest.approx(0.25)  # b's mean at month 6

"""icsim validate: the national view against evidence statements (issue 21)."""

import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_refused, icsim

from sim.core.errors import UsageError
from sim.studies import validation

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
name = "small"
description = "A small validation."

[[configurations]]
name = "tiny"
approach = "baseline"
funding_rule = "competitive"
budget_per_site = 0.5
sites = 20
replicates = 3
months = 6
description = "Twenty sites for six months."
money_note = "half a full pilot's cost per site."
"""

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
    path.write_text(CONFIG + IMPOSSIBLE + TRIVIAL + APART)
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
    text = (validated / "validation.md").read_text()
    assert "1 consistent, 1 inconsistent, 1 not comparable" in text
    assert "never used to fit" in text and "registry's point values" in text
    assert "integration needs a pilot" in text  # the mechanism of the inconsistency
    assert (validated / "validation_tiny.png").stat().st_size > 0
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


def test_shipped_file_loads():
    spec = validation.load_validation(ROOT / "experiments" / "validate_national.toml")
    ids = [s.id for s in spec.statements]
    for sid in ("E1.3", "E1.4", "E1.5", "E1.6", "E2.3a", "E2.3b", "E2.4", "E2.5"):
        assert sid in ids
    assert {c.name for c in spec.configurations} == {"pioneers", "vanguards"}
    for conf in spec.configurations:  # every configuration is a valid national request
        validation.national_spec(conf, replicates=2)


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
    ("unknown sites", ('sites = "all"', 'sites = "some"'), ["'impossible'", "all, funded"]),
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
    path.write_text(CONFIG + IMPOSSIBLE.replace(old, new, 1))
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
]


@pytest.mark.parametrize("what,change,words", BAD_CONFIG, ids=[b[0] for b in BAD_CONFIG])
def test_bad_configurations_refused_in_one_line(tmp_path_factory, tmp_path, what, change,
                                                words):
    old, new = change
    assert old in CONFIG
    path = tmp_path_factory.mktemp("badconf") / "bad.toml"
    path.write_text(CONFIG.replace(old, new, 1) + TRIVIAL)
    assert_refused(tmp_path, ["validate", str(path), "--out", str(tmp_path / "out")], words)


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

"""Before/after table of a model revision: ``make model-changes`` -> docs/model_changes.md.

Measures the same things on two versions of the code -- ``--before REF`` (a git commit,
checked out into a temporary worktree) and the working tree -- and writes one Markdown
report:

1. the share of runs meeting each of the case's fourteen targets (docs/case_targets.md)
   at the registry's defaults and under the calibration file's prior;
2. every named scenario's P(pilot), P(commissioned) and P(integrated) by months 36 and 60;
3. ``icsim national`` shares at months 24, 36, 48 and 60 for the configurations of
   experiments/validate_national.toml (the Pioneers' enabling approach without programme
   money, the vanguards' funded, competitive programme), beside that file's statements of
   the national evaluations (docs/national_evidence.md, E1-E2) with a verdict per line:
   consistent, inconsistent (with the mechanism the model points to), or not comparable.
   Inconsistent lines stay: the model is not tuned to pass them.

Each measurement runs in a subprocess whose ``PYTHONPATH`` is that version's tree, so the
two versions never share a process.

    python tools/model_changes.py --before <commit> [--runs 4000] [--sites 200]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's sim, whatever the working folder

from sim.studies.national import rule_label  # noqa: E402
from sim.studies.validation import (  # noqa: E402
    Programme,
    ValidationFile,
    load_validation,
    programme_mask,
)

#: Run inside a version's tree; prints one JSON object.
MEASURE = r'''
import json, sys
import numpy as np
from sim.core.registry import PARAMETERS, resolve
from sim.core.scenarios import SCENARIOS, parameters_for
from sim.run import run_projects
from sim.studies.calibration.spec import load_calibration
from sim.studies.calibration.targets import TARGETS, simulate, target_terms

runs = int(sys.argv[1]); calibration = sys.argv[2]
seeds = list(range(runs))
base = parameters_for("baseline")

def shares(values):
    terms = target_terms(simulate(values, seeds, 60))
    met = {k: np.asarray(terms[k]) == 0 for k in TARGETS}
    every = np.all([met[k] for k in TARGETS], axis=0)
    return {**{k: float(m.mean()) for k, m in met.items()}, "all": float(every.mean())}

out = {"targets_defaults": shares([base] * runs)}
spec = load_calibration(calibration)
rng = np.random.default_rng(20261206)
prior = []
for _ in range(runs):
    v = dict(base)
    for name, (lo, hi) in spec.priors.items():
        x = rng.uniform(lo, hi)
        v[name] = int(round(x)) if PARAMETERS[name].kind == "int" else float(x)
    prior.append(resolve(v))
out["targets_prior"] = shares(prior)
scen = {}
for name in SCENARIOS:
    f = run_projects([parameters_for(name)] * runs, seeds, 60)
    row = {}
    for gate in ("pilot", "commissioned", "integrated"):
        col = f"{gate}_month"
        for m in (36, 60):
            row[f"{gate}_{m}"] = (float((f[col].astype(float) <= m).mean())
                                  if col in f.columns else None)
    scen[name] = row
out["scenarios"] = scen
print(json.dumps(out))
'''

#: The configurations and evidence statements: the validation file (``icsim validate``).
EVIDENCE_FILE = ROOT / "experiments" / "validate_national.toml"
#: A configuration as this tool runs it: scenario file, funding rule, budget per site, the
#: programme's selection (or None) and the seed.
Config = tuple[str, str, float, Programme | None, int]


def configurations(evidence: ValidationFile) -> dict[str, Config]:
    """Each configuration of the validation file (E2.5's half-budget contrast included)."""
    return {c.name: (c.approach, c.funding_rule, c.budget_per_site, c.programme, c.seed)
            for c in evidence.configurations}


def _version_tree(ref: str, keep: list[Path]) -> Path:
    path = Path(tempfile.mkdtemp(prefix="icsim_before_"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref],
                   check=True, capture_output=True)
    keep.append(path)
    return path


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def measure(tree: Path, runs: int) -> dict:
    """Targets and scenarios, measured in the version at ``tree``."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(runs),
                           str(ROOT / "experiments" / "calibrate_case.toml")],
                          cwd=tree, env=_env(tree), check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def national(tree: Path, configs: dict[str, Config], sites: int,
             replicates: int, work: Path) -> dict:
    """Per configuration, per replicate: the share of sites (all, funded, or the
    programme's: selected here, by this tree's code, from the run's readiness) that
    reached each statistic by each month."""
    import pandas as pd

    out: dict[str, dict] = {}
    for name, (approach, rule, per_site, programme, seed) in configs.items():
        target = work / f"{tree.name}_{name}"
        command = [sys.executable, "-m", "sim", "national", "--sites", str(sites),
                   "--replicates", str(replicates), "--approach", approach,
                   "--funding-rule", rule, "--budget", str(per_site * sites),
                   "--seed", str(seed), "--months", "60", "--out", str(target), "--quiet"]
        subprocess.run(command, cwd=tree, env=_env(tree), check=True, capture_output=True)
        frame = pd.read_parquet(target / "sites.parquet")
        stats: dict[str, list[float] | None] = {}
        groups = {"all": frame, "funded": frame[frame.funded]}
        if programme is not None:
            groups["programme"] = frame[programme_mask(frame, programme, seed)]
        for group, part in groups.items():
            for stat in ("small_tasks", "pilot", "commissioned", "integrated", "collapsed"):
                col = {"collapsed": None}.get(stat, f"{stat}_month")
                for month in (24, 30, 36, 48, 60):
                    key = f"{group}:{stat}:{month}"
                    if stat == "collapsed":
                        reached = part.outcome == "collapsed"
                    elif col not in part.columns:
                        stats[key] = None
                        continue
                    else:
                        reached = part[col].astype(float) <= month
                    per = reached.groupby(part.replicate).mean().to_numpy(dtype=float)
                    stats[key] = [float(x) for x in per] if len(per) else None
        out[name] = stats
    return out


def _ci(values: list[float] | None, floor: float = 0.0) -> tuple[float, float, float] | None:
    """Mean and 95% t interval, kept within [floor, 1] (floor -1 for a difference)."""
    if not values:
        return None
    from scipy import stats

    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, max(floor, mean - half), min(1.0, mean + half)


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def _share(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def verdict(ci: tuple[float, float, float] | None, low: float, high: float) -> str:
    if ci is None:
        return "not comparable (the version does not record it)"
    mean, lo, hi = ci
    if math.isnan(lo):
        lo = hi = mean
    return "consistent" if hi >= low and lo <= high else "inconsistent"


def report(before_ref: str, before: dict, after: dict, nat_before: dict, nat_after: dict,
           runs: int, sites: int, replicates: int, evidence: ValidationFile) -> str:
    targets = [k for k in after["targets_defaults"] if k != "all"] + ["all"]
    lines = [
        "# What the model revision changed (issue 19)",
        "",
        f"Generated by `make model-changes` (`tools/model_changes.py --before {before_ref}`): "
        "the same measurements on the code before the revision and on this tree. Fast "
        f"engine, seeds 0-{runs - 1}, 60 months. Nothing here was tuned: the revised "
        "model's numbers are the registry's defaults, and calibrating them is issue 20.",
        "",
        "## 1 The case's targets (docs/case_targets.md): share of runs meeting each",
        "",
        f"{runs:,} runs each. *Prior*: every parameter of experiments/calibrate_case.toml "
        "drawn uniformly from its prior range, the rest at the defaults.",
        "",
        "| | " + " | ".join(targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for label, version, key in (("before, defaults", before, "targets_defaults"),
                                ("after, defaults", after, "targets_defaults"),
                                ("before, prior", before, "targets_prior"),
                                ("after, prior", after, "targets_prior")):
        lines.append(f"| {label} | " + " | ".join(_share(version[key].get(t))
                                                  for t in targets) + " |")
    lines += ["", "## 2 Named scenarios", "",
              f"{runs:,} runs each; P(gate by month m). *Commissioned* did not exist before "
              "the revision (n/a); integration was then a monthly chance after a pilot.", "",
              "| scenario | P(pilot) 36 before → after | P(pilot) 60 | P(commissioned) 36 | "
              "P(commissioned) 60 | P(integrated) 36 | P(integrated) 60 |",
              "|---|---|---|---|---|---|---|"]
    for name, row in after["scenarios"].items():
        old = before["scenarios"].get(name, {})
        cells = []
        for key in ("pilot_36", "pilot_60", "commissioned_36", "commissioned_60",
                    "integrated_36", "integrated_60"):
            cells.append(f"{_pct(old.get(key))} → {_pct(row.get(key))}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## 3 The national view beside the national evaluations", "",
              f"`icsim national`, {sites} sites x {replicates} replicates (a new country each), "
              "60 months. Shares of sites by month, mean across replicates [95% t interval].",
              "",
              *[f"- **{c.name}**: `{Path(c.approach).name}`, rule "
                f"“{rule_label(c.funding_rule)}”, budget {c.budget_per_site:g} full pilot costs "
                f"a site. {c.money_note}"
                for c in evidence.configurations],
              "",
              "| configuration | statistic | sites | 24 | 36 | 48 | 60 |",
              "|---|---|---|---|---|---|---|"]
    for name in nat_after:
        for stat in ("pilot", "commissioned", "integrated", "small_tasks"):
            for group in ("all", "funded", "programme"):
                if group != "all" and not nat_after[name].get(f"{group}:{stat}:24"):
                    continue  # a configuration that funds no site, or names no programme
                cells = []
                for month in (24, 36, 48, 60):
                    key = f"{group}:{stat}:{month}"
                    b, a = _ci(nat_before[name].get(key)), _ci(nat_after[name].get(key))
                    cells.append(f"{_pct(b[0]) if b else 'n/a'} → {_pct(a[0]) if a else 'n/a'}")
                lines.append(f"| {name} | {stat} | {group} | " + " | ".join(cells) + " |")
    lines += ["", "Cells read *before → after*.", "",
              "### Verdicts", "",
              "Consistent: the 95% interval across replicates overlaps the range the statement "
              "allows ('most' > 50%, 'limited'/'few, not none' 1-50%, 'rare'/'exceptional' at "
              "most 5%, 'substantial' at least 25%; experiments/validate_national.toml). "
              "E1.1, E1.2, E2.1 and E2.2 are the configurations' design, not checks.", "",
              "| statement | configuration | statistic | allowed | before | after | verdict "
              "before | verdict after | comparability | mechanism the model points to |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for s in evidence.statements:
        if s.comparability == "not comparable" or s.contrast:
            continue  # a contrast of two configurations (E2.5): a paragraph below
        sid, name, stat, month, group = s.id, s.configuration, s.statistic, s.month, s.sites
        low, high, comparable, mechanism = s.low, s.high, s.comparability, s.mechanism
        key = f"{group}:{stat}:{month}"
        b, a = _ci(nat_before[name].get(key)), _ci(nat_after[name].get(key))

        def cell(ci: tuple[float, float, float] | None) -> str:
            if ci is None:
                return "n/a"
            return f"{_pct(ci[0])} [{_pct(ci[1])}, {_pct(ci[2])}]"

        vb, va = verdict(b, low, high), verdict(a, low, high)
        lines.append(f"| {sid} | {name} | {stat} by {month} ({group} sites) | "
                     f"{low:.0%}-{high:.0%} | {cell(b)} | {cell(a)} | {vb} | {va} | "
                     f"{comparable} | {mechanism if 'inconsistent' in va else ''} |")
    for s in evidence.statements:
        if not s.contrast or s.comparability == "not comparable":
            continue
        key = f"{s.sites}:{s.statistic}:{s.month}"
        first, second = nat_after[s.configuration].get(key), nat_after[s.contrast].get(key)
        if not (first and second):
            continue
        d = _ci([b - a for a, b in zip(first, second, strict=True)], floor=-1.0)
        assert d is not None
        lines += ["", f"{s.id} ({s.passage}): {s.statistic} by month {s.month} ({s.sites} "
                  f"sites), {s.contrast} minus {s.configuration}, paired over replicates: "
                  f"{d[0]:+.1%} [{d[1]:+.1%}, {d[2]:+.1%}] after the revision; allowed "
                  f"{s.low:+.0%} to {s.high:+.0%}. Verdict: {verdict(d, s.low, s.high)}"
                  + (f" -- the model blames: {s.mechanism}." if "inconsistent" in
                     verdict(d, s.low, s.high) else ".")]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git commit of the earlier model")
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "model_changes.md")
    args = parser.parse_args(argv)
    evidence = load_validation(EVIDENCE_FILE)
    configs = configurations(evidence)
    trees: list[Path] = []
    try:
        before_tree = _version_tree(args.before, trees)
        with tempfile.TemporaryDirectory() as work:
            print("measuring the earlier model ...", file=sys.stderr)
            before = measure(before_tree, args.runs)
            nat_before = national(before_tree, configs, args.sites, args.replicates,
                                  Path(work))
            print("measuring this tree ...", file=sys.stderr)
            after = measure(ROOT, args.runs)
            nat_after = national(ROOT, configs, args.sites, args.replicates, Path(work))
        text = report(args.before, before, after, nat_before, nat_after, args.runs,
                      args.sites, args.replicates, evidence)
        tmp = args.out.with_suffix(".md.tmp")
        tmp.write_text(text)
        tmp.replace(args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    finally:
        for tree in trees:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(tree)], capture_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

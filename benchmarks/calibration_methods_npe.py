"""Neural posterior estimation (sbi) against rejection ABC on the same reference table.

Both methods use the reference table of a finished calibration (``--runs``, built by
``icsim calibrate experiments/calibrate_case.toml``) and the same synthetic cases of the
coverage check (``priors.SYNTHETIC``, ``--cases`` of them). Measured, per method:

* simulation-based calibration: coverage of the 90% central intervals over the synthetic
  cases, mean over all inferred entries and over those the rejection posterior narrows
  (width ratio <= 0.8), with the number of entries whose 95% Wilson interval of coverage
  lies wholly outside 85-95%;
* how much each posterior narrows: entries with width ratio <= 0.8 (and < 0.5);
* posterior predictive fit for the case: the posterior draws run again with new seeds,
  the share meeting each target and all of them (95% Wilson interval for ``all``);
* cost: CPU-seconds of training, of drawing the case's posterior, of the coverage check.

NPE needs the optional extra (``pip install -e '.[sbi]'``)::

    nice -n 10 python benchmarks/calibration_methods_npe.py --runs /work/runs/case \\
        --training 200000 --epochs 40 --cases 200

It writes ``docs/calibration/methods_npe.csv`` (one row per method), ``methods_npe.md``
(the fragment for ``docs/calibration/methods.md``), ``methods_npe_coverage.csv`` (per
entry and method), and the training record and trained estimator under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.stats import wilson
from sim.report.calibration import NOT_IDENTIFIED, coverage_table, identification
from sim.studies.calibration import npe, priors, reference, rejection
from sim.studies.calibration.spec import load_calibration

ROOT = Path(__file__).resolve().parents[1]


def summarise(method: str, spec_draws: pd.DataFrame, cover_cases: pd.DataFrame,
              ident_ref: pd.DataFrame, terms: pd.DataFrame, spec: object,
              cost: dict[str, float]) -> tuple[dict[str, object], pd.DataFrame]:
    ident = identification(spec, spec_draws)  # type: ignore[arg-type]
    table = coverage_table(spec, cover_cases, ident_ref)  # type: ignore[arg-type]
    narrowed_ref = table[table.narrowed_by_case]
    outside = table[(table.high < 0.85) | (table.low > 0.95)]
    shares = rejection.met_shares(terms)
    k_all = int((terms.to_numpy() == 0).all(axis=1).sum())
    lo, hi = wilson(k_all, len(terms))
    row: dict[str, object] = {
        "method": method, "cases": int(cover_cases.case.nunique()),
        "coverage_mean_all": float(table.coverage.mean()),
        "coverage_min_all": float(table.coverage.min()),
        "coverage_max_all": float(table.coverage.max()),
        "entries_outside_85_95": len(outside),
        "entries_narrowed_by_rejection": len(narrowed_ref),
        "coverage_mean_narrowed_by_rejection": float(narrowed_ref.coverage.mean())
        if len(narrowed_ref) else math.nan,
        "entries_narrowed_0_8": int((ident.width_ratio <= NOT_IDENTIFIED).sum()),
        "entries_identified_0_5": int((ident.width_ratio < 0.5).sum()),
        "median_width_ratio": float(ident.width_ratio.median()),
        "predictive_runs": len(terms),
        **{f"met_{k}": v for k, v in shares.items()},
        "met_all_low": lo, "met_all_high": hi, **cost}
    table.insert(0, "method", method)
    return row, table


def install_size() -> str:
    """The on-disk size of the extra's heavy packages in this environment (torch, the
    NVIDIA libraries its PyPI wheel pulls, triton, sbi)."""
    import torch

    site = Path(torch.__file__).resolve().parents[1]
    sizes: dict[str, int] = {}
    for pattern in ("torch", "nvidia*", "triton", "sbi"):
        total = 0
        for folder in site.glob(pattern):
            total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        sizes[pattern.rstrip("*")] = total
    parts = ", ".join(f"{k} {v / 1e9:.2f} GB" if v >= 1e8 else f"{k} {v / 1e6:.0f} MB"
                      for k, v in sizes.items())
    return (f"torch {torch.__version__}: {sum(sizes.values()) / 1e9:.1f} GB on disk "
            f"({parts}).")


def differences(a: pd.Series, b: pd.Series,
                targets: list[str]) -> dict[str, tuple[float, float, float]]:
    """``b - a`` for each target's share met, with a normal 95% interval."""
    out = {}
    for t in targets:
        pa, pb = float(a[f"met_{t}"]), float(b[f"met_{t}"])
        na, nb = int(a.predictive_runs), int(b.predictive_runs)
        se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
        out[t] = (pb - pa, pb - pa - 1.96 * se, pb - pa + 1.96 * se)
    return out


def fmt_share(x: float) -> str:
    return f"{100 * x:.1f}%" if x >= 0.001 or x == 0 else f"{100 * x:.2f}%"


def markdown(table: pd.DataFrame, entries: int, install: str) -> str:
    """The fragment for docs/calibration/methods.md, from the CSV's numbers."""
    rej = table.set_index("method").loc["rejection"]
    net = table.set_index("method").loc["npe"]
    settings = json.loads(str(net["settings"]))
    targets = [c[4:] for c in table.columns if c.startswith("met_T")]
    lines = [
        "## Neural posterior estimation (sbi) against rejection ABC",
        "",
        "Generated by `benchmarks/calibration_methods_npe.py` (numbers in "
        "`methods_npe.csv`, per entry in `methods_npe_coverage.csv`). Both methods use the "
        "same reference table of "
        f"{int(rej.training_simulations):,} prior runs of `experiments/calibrate_case.toml` "
        f"({entries} inferred entries, {len(targets)} targets) and the same "
        f"{int(rej.cases)} synthetic cases "
        f"(`priors.SYNTHETIC`). Rejection keeps the {int(rej.coverage_draws_per_case):,} runs "
        "nearest each case (the whole table searched); NPE (sbi `NPE`, "
        f"{settings['estimator'].upper()}, "
        f"{settings['num_transforms']} transforms of {settings['hidden_features']} hidden "
        f"units) is trained once on the table's first {int(net.training_simulations):,} "
        f"runs ({int(net.epochs)} epochs as sbi counts them; "
        + ("stopped by the epoch cap, not by early stopping"
           if int(net.epochs) > int(settings["max_epochs"]) else
           f"early stopping after {settings['stop_after_epochs']} epochs without "
           "improvement")
        + ") and conditioned on each case "
        f"({int(net.coverage_draws_per_case)} draws per synthetic case, "
        f"{int(net.predictive_runs):,} for the case).",
        "",
        "| | rejection ABC | NPE |",
        "|---|---|---|",
        f"| SBC coverage of 90% intervals, mean over all {entries} entries | "
        f"{rej.coverage_mean_all:.1%} | {net.coverage_mean_all:.1%} |",
        f"| ... range over entries | {rej.coverage_min_all:.0%}-{rej.coverage_max_all:.0%} | "
        f"{net.coverage_min_all:.0%}-{net.coverage_max_all:.0%} |",
        f"| entries whose 95% Wilson interval lies wholly outside 85-95% | "
        f"{int(rej.entries_outside_85_95)} | {int(net.entries_outside_85_95)} |",
        f"| coverage over the {int(rej.entries_narrowed_by_rejection)} entries rejection "
        f"narrows (width ratio <= 0.8) | {rej.coverage_mean_narrowed_by_rejection:.1%} | "
        f"{net.coverage_mean_narrowed_by_rejection:.1%} |",
        f"| numeric entries the case's posterior narrows (width ratio <= 0.8 / < 0.5) | "
        f"{int(rej.entries_narrowed_0_8)} / {int(rej.entries_identified_0_5)} | "
        f"{int(net.entries_narrowed_0_8)} / {int(net.entries_identified_0_5)} |",
        f"| median width ratio | {rej.median_width_ratio:.2f} | "
        f"{net.median_width_ratio:.2f} |",
        *[f"| posterior runs meeting {t} | {rej[f'met_{t}']:.2f} | {net[f'met_{t}']:.2f} |"
          for t in targets],
        f"| posterior runs meeting all {len(targets)} (95% Wilson) | {fmt_share(rej.met_all)} "
        f"[{fmt_share(rej.met_all_low)}, {fmt_share(rej.met_all_high)}] | "
        f"{fmt_share(net.met_all)} [{fmt_share(net.met_all_low)}, "
        f"{fmt_share(net.met_all_high)}] |",
        f"| validation loss of the trained network (nats; the prior's own: "
        f"{2 * entries} = {entries} entries x 2, the standard logistic's entropy) | - | "
        f"{net.validation_loss:.2f} |",
        f"| CPU-seconds: training | - | {net.train_cpu_s:,.0f} |",
        f"| CPU-seconds: the case's posterior ({int(net.predictive_runs):,} draws) | "
        f"{rej.case_posterior_cpu_s:,.0f} "
        f"| {net.case_posterior_cpu_s:,.0f} |",
        f"| CPU-seconds: coverage check ({int(rej.cases)} cases) | {rej.coverage_cpu_s:,.0f} | "
        f"{net.coverage_cpu_s:,.0f} |",
        "",
        f"Posterior predictive runs: each of the {int(net.predictive_runs):,} draws run once "
        "more with a new seed "
        f"(the same seeds for both methods). Install: {install}",
        "",
        "Predictive differences, NPE minus rejection (95% interval, normal approximation, "
        "the two sets of predictive runs treated as independent; too coarse for the rare "
        "`all`): "
        + "; ".join(f"{t} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                    for t, (d, lo, hi) in differences(rej, net, targets + ["all"]).items())
        + ".",
        "",
        "How to read it:",
        "",
        "- Coverage near 90% over entries the posterior leaves at their prior says little: "
        "the prior itself covers 90%. The test that matters is coverage of the entries a "
        "method narrows, together with how many it narrows and the predictive fit.",
        "- Intervals: one entry's coverage over the synthetic cases is a binomial share "
        "(95% Wilson interval about +-4 points at 200 cases); the entries are not "
        "independent, so a mean over them has no simple interval.",
        "- CPU-seconds were measured on a shared two-core machine under other load (nice "
        "10, one torch thread); they are upper bounds for a quiet machine.",
        "",
        "Not measured: other density estimators or sizes, other training-set sizes, "
        "several training seeds (one trained network, so the spread over training runs "
        "is unknown), NLE or sequential (multi-round) NPE, a CPU-only torch build's "
        "install size, and NPE on more synthetic cases than the rejection check uses.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", default=str(ROOT / "experiments" / "calibrate_case.toml"))
    ap.add_argument("--runs", required=True, help="a finished calibration's folder")
    ap.add_argument("--work", default="/tmp/npe-bench", help="intermediate files")
    ap.add_argument("--out", default=str(ROOT / "docs" / "calibration" / "methods_npe.csv"))
    ap.add_argument("--training", type=int, default=200_000)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--stop-after", type=int, default=10)
    ap.add_argument("--estimator", default="maf")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--transforms", type=int, default=5)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--draws", type=int, default=500, help="NPE draws per synthetic case")
    ap.add_argument("--install", default="",
                    help="a sentence on the install time (measured apart), added to the "
                    "measured install size")
    ap.add_argument("--markdown-only", action="store_true",
                    help="rewrite the .md fragment from an existing --out CSV")
    args = ap.parse_args(argv)
    md = Path(args.out).with_suffix(".md")
    args.install = " ".join(filter(None, [install_size(), args.install]))
    if args.markdown_only:
        frame = pd.read_csv(args.out)
        if "validation_loss" not in frame:  # written by an earlier version of this script
            record = json.loads((Path(args.work) / "training.json").read_text())
            frame["validation_loss"] = [math.nan, record["validation_loss"]]
            frame.to_csv(args.out, index=False, float_format="%.6g")
        entries = len(load_calibration(args.file).inferred)
        md.write_text(markdown(frame, entries, args.install))
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    spec = load_calibration(args.file)
    ref = reference.load(spec, Path(args.runs))
    table = rejection.table_features(spec.targets, ref)
    del ref
    log(f"table {table.shape}")
    names = [t.name for t in spec.targets]
    rows, tables = [], []

    # ---- rejection ABC: the case's posterior, its predictive runs, its coverage
    cpu = time.process_time()
    post = rejection.posterior(spec, table)
    rej_sample = time.process_time() - cpu
    rej_terms = rejection.predictive(spec, post.params)
    cpu = time.process_time()
    rej_cover = rejection.coverage(spec, table, args.cases)
    rej_cover_cpu = time.process_time() - cpu
    ident_ref = identification(spec, post.values)
    log(f"rejection done ({rej_cover_cpu:.0f} CPU-s coverage)")
    row, cov = summarise("rejection", post.values, rej_cover, ident_ref, rej_terms, spec,
                         {"training_simulations": spec.simulations, "epochs": 0,
                          "train_cpu_s": 0.0, "case_posterior_cpu_s": rej_sample,
                          "coverage_cpu_s": rej_cover_cpu,
                          "coverage_draws_per_case": spec.accept})
    rows.append(row)
    tables.append(cov)

    # ---- NPE: train once on the table's first runs, condition on the case and each
    # synthetic case
    n = min(args.training, len(table))
    params = priors.rows(spec, priors.REFERENCE, np.arange(n), spec.simulations)
    log(f"training NPE on {n:,} runs")
    trained = npe.train(spec, params, table[:n], estimator=args.estimator,
                        max_epochs=args.epochs, stop_after_epochs=args.stop_after,
                        batch_size=args.batch, hidden_features=args.hidden,
                        num_transforms=args.transforms, seed=spec.seed)
    del params
    record = {"simulations": trained.simulations, "epochs": trained.epochs,
              "cpu_seconds": trained.cpu_seconds, "seconds": trained.seconds,
              "validation_loss": trained.validation_loss, **trained.settings}
    (work / "training.json").write_text(json.dumps(record, indent=1))
    try:
        with open(work / "trained.pkl", "wb") as fh:
            pickle.dump(trained, fh)
    except Exception as exc:  # a convenience for reruns, not a result
        log(f"trained estimator not saved: {exc!r}")
    log(f"trained: {record}")
    cpu = time.process_time()
    drawn = npe.sample(trained, np.zeros(len(names)), spec.accept, seed=spec.seed)
    npe_sample = time.process_time() - cpu
    values = priors.as_values(spec, drawn)
    values.to_parquet(work / "npe_posterior.parquet")
    npe_terms = rejection.predictive(spec, drawn)
    log(f"npe case posterior: {npe_sample:.0f} CPU-s")
    cpu = time.process_time()
    npe_cover = npe.coverage(trained, args.cases, draws=args.draws, seed=spec.seed)
    npe_cover_cpu = time.process_time() - cpu
    log(f"npe coverage: {npe_cover_cpu:.0f} CPU-s")
    row, cov = summarise("npe", values, npe_cover, ident_ref, npe_terms, spec,
                         {"training_simulations": n, "epochs": trained.epochs,
                          "train_cpu_s": trained.cpu_seconds,
                          "case_posterior_cpu_s": npe_sample,
                          "coverage_cpu_s": npe_cover_cpu,
                          "coverage_draws_per_case": args.draws})
    row["settings"] = json.dumps(trained.settings, sort_keys=True)
    row["validation_loss"] = trained.validation_loss
    rows.append(row)
    tables.append(cov)

    out = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False, float_format="%.6g")
    by_entry = pd.concat(tables)
    by_entry.to_csv(work / "coverage_by_entry.csv", index=False, float_format="%.6g")
    by_entry.to_csv(Path(args.out).with_name(Path(args.out).stem + "_coverage.csv"),
                    index=False, float_format="%.6g")
    identification(spec, values).to_csv(work / "npe_identification.csv", index=False,
                                        float_format="%.6g")
    md.write_text(markdown(out, len(spec.inferred), args.install))
    print(out.T.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())

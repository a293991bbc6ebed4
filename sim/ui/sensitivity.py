"""``make sensitivity``: run the published sensitivity analysis and write
docs/sensitivity.md with its figures (``python -m sim.ui.sensitivity``).

The sweeps run through ``sim.experiment.sweep`` (resumed where finished); the numbers come
from ``sim.studies.sensitivity``, the text from ``sim.report.sensitivity`` and the figures
from ``sim.report.figures``. The Sobol follow-up's experiment file is written to
``<results>/sobol_top.toml``; the tracked ``experiments/sobol_top.toml`` is not rewritten.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sim.core.errors import UsageError
from sim.experiment.spec import load_experiment
from sim.experiment.store import write_atomic
from sim.experiment.sweep import run_sweep
from sim.report import figures as plots
from sim.report.sensitivity import report
from sim.studies.sensitivity import (
    OUTCOMES,
    ROOT,
    alternatives,
    most_influential,
    screen,
    sobol,
    sobol_file_text,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweeps (resumed where finished), the analyses, and write the report."""
    parser = argparse.ArgumentParser(prog="python -m sim.ui.sensitivity", description=__doc__)
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--alternative-runs", type=int, default=2000)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--allow-mixed-code", action="store_true",
                        help="resume sweeps whose parts other code wrote (recorded in their "
                             "manifests)")
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except UsageError as exc:
        print(f"python -m sim.ui.sensitivity: error: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    screening_dir = args.results / "screening_all"
    run_sweep(load_experiment(ROOT / "experiments" / "screening_all.toml"), screening_dir,
              workers=args.workers, resume=(screening_dir / "manifest.json").exists(),
              progress=not args.quiet, allow_mixed_code=args.allow_mixed_code)
    screening = screen(screening_dir)
    names = most_influential(screening)
    # The generated follow-up goes with the results; the tracked experiments/sobol_top.toml
    # is the published copy, never rewritten here.
    text = sobol_file_text(names)
    args.results.mkdir(parents=True, exist_ok=True)
    sobol_path = args.results / "sobol_top.toml"
    write_atomic(sobol_path, text.encode("utf-8"))
    published = ROOT / "experiments" / "sobol_top.toml"
    if not published.exists() or published.read_text() != text:
        print(f"note: the screening chose other entries than {published.relative_to(ROOT)}; "
              f"copy {sobol_path} there to publish them", file=sys.stderr)
    sobol_dir = args.results / "sobol_top"
    run_sweep(load_experiment(sobol_path), sobol_dir, workers=args.workers,
              resume=(sobol_dir / "manifest.json").exists(), progress=not args.quiet,
              allow_mixed_code=args.allow_mixed_code)
    sob = sobol(sobol_dir)
    alt = alternatives(runs=args.alternative_runs)
    images = args.docs / "images" / "sensitivity"
    images.mkdir(parents=True, exist_ok=True)
    for name, fig in (("screening", plots.screening_figure(screening, OUTCOMES)),
                      ("sobol", plots.sobol_figure(sob, OUTCOMES))):
        plots.save(fig, images / f"{name}.png")
        plots.save(fig, images / f"{name}.svg")
    alt.to_csv(images / "alternatives.csv", index=False, float_format="%.6g")
    (args.docs / "sensitivity.md").write_text(report(screening, sob, alt, names))
    print(f"wrote {args.docs / 'sensitivity.md'} and {images}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

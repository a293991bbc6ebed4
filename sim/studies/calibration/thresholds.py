"""How much the case's posterior moves with the readings of vague words (T11–T14).

``python -m sim.studies.calibration.thresholds [FILE] [--out DIR] [--population N]
[--generations G]`` calibrates the file once at its thresholds and once with each of
``high`` (0.6) and ``low`` (0.4) moved by ±0.1, at a smaller population than the shipped
calibration, and writes ``DIR/thresholds.md``: each parameter's posterior median and 90%
width under every reading. A parameter whose median moves by more than a third of its
prior range with a reading is flagged as resting on that reading.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import pandas as pd

from sim.studies.calibration.run import calibrate
from sim.studies.calibration.spec import load_calibration

ROOT = Path(__file__).resolve().parents[3]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.studies.calibration.thresholds")
    parser.add_argument("file", nargs="?", default=ROOT / "experiments" / "calibrate_case.toml")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "calibration")
    parser.add_argument("--population", type=int, default=300)
    parser.add_argument("--generations", type=int, default=6)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    base = load_calibration(args.file)
    base = dataclasses.replace(base, population=args.population, generations=args.generations,
                               draws=1000)
    readings = {"as read (high 0.6, low 0.4)": base.thresholds}
    for name, delta in (("high", -0.1), ("high", 0.1), ("low", -0.1), ("low", 0.1)):
        value = round(getattr(base.thresholds, name) + delta, 2)
        readings[f"{name} = {value:g}"] = dataclasses.replace(base.thresholds, **{name: value})
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, thresholds) in enumerate(readings.items()):
            spec = dataclasses.replace(base, thresholds=thresholds,
                                       text=base.text + f"\n# reading {i}\n")
            out = Path(tmp) / f"r{i}"
            calibrate(spec, out, workers=args.workers, progress=False)
            tables[label] = pd.read_csv(out / "identification.csv").set_index("parameter")
    first = next(iter(tables.values()))
    lines = ["# Sensitivity of the case posterior to the readings of vague words", "",
             f"`python -m sim.studies.calibration.thresholds`: `{Path(args.file).name}` calibrated "
             f"with population {args.population}, {args.generations} generations (smaller "
             "than the shipped calibration), once per reading of the thresholds of T11–T14 "
             "('present' = direction >= high, 'lacking' = alignment/commitment <= low). "
             "Cells: posterior median [90% interval]. **Bold**: the median moves by more "
             "than a third of the prior range from the first column.", "",
             "| parameter | " + " | ".join(tables) + " |",
             "|---|" + "---|" * len(tables)]
    for name in first.index:
        cells = []
        span = first.loc[name, "prior_high"] - first.loc[name, "prior_low"]
        for table in tables.values():
            r = table.loc[name]
            cell = f"{r.posterior_median:.3g} [{r.posterior_5:.3g}, {r.posterior_95:.3g}]"
            moved = abs(r.posterior_median - first.loc[name, "posterior_median"]) > span / 3
            cells.append(f"**{cell}**" if moved else cell)
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "thresholds.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'thresholds.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

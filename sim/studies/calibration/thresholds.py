"""How much the case's posterior moves with the readings of vague words.

``python -m sim.studies.calibration.thresholds [FILE] --reference DIR [--out DIR]``
conditions the calibration file on the reference table of its finished calibration in
``DIR`` once at its ``[constants]`` and once with each of ``high`` and ``low`` moved by
±0.1 (the readings of "present" and "lacking" in T11–T13), and writes ``thresholds.md``:
each narrowed parameter's posterior median and 90% width under every reading, and the
posterior share meeting every target. A parameter whose median moves by more than a
third of its prior range with a reading is flagged as resting on that reading. Rejection
on one table makes this a matter of seconds: no new simulation is needed.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from sim.core.tomlfile import loads as toml_loads
from sim.studies.calibration import reference, rejection
from sim.studies.calibration.spec import CalibrationSpec, load_calibration
from sim.studies.calibration.targets import parse_targets

ROOT = Path(__file__).resolve().parents[3]
MOVES = (("high", -0.1), ("high", 0.1), ("low", -0.1), ("low", 0.1))


def readings(spec: CalibrationSpec) -> dict[str, CalibrationSpec]:
    """The file as read, and with each of ``high``/``low`` moved by ±0.1."""
    raw = toml_loads(spec.text).get("targets")
    out = {"as read": spec}
    for name, delta in MOVES:
        if name not in spec.constants:
            continue
        constants = {**spec.constants, name: round(spec.constants[name] + delta, 2)}
        targets = parse_targets(raw, constants, spec.months, spec.source)
        out[f"{name} = {constants[name]:g}"] = dataclasses.replace(
            spec, constants=constants, targets=targets)
    return out


def sensitivity(spec: CalibrationSpec, table_dir: Path) -> pd.DataFrame:
    """Per reading and numeric entry narrowed under the file's reading: posterior median
    and 90% width."""
    ref = reference.load(spec, table_dir)
    rows = []
    for label, variant in readings(spec).items():
        table = rejection.table_features(variant.targets, ref)
        post = rejection.posterior(variant, table)
        for name, (low, high) in spec.priors.items():
            x = post.values[name].to_numpy(float)
            lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
            rows.append({"reading": label, "parameter": name, "median": med,
                         "width_ratio": (hi - lo) / (0.9 * (high - low)),
                         "prior_range": high - low})
    return pd.DataFrame(rows)


def render(frame: pd.DataFrame, spec: CalibrationSpec) -> str:
    base = frame[frame.reading == "as read"].set_index("parameter")
    shown = list(base.index[base.width_ratio <= 0.8]) or list(
        base.sort_values("width_ratio").index[:5])
    labels = list(dict.fromkeys(frame.reading))
    lines = ["# How the posterior rests on the readings of vague words", "",
             f"Calibration `{spec.name}` conditioned on one reference table "
             f"({spec.simulations:,} prior simulations) at each reading; "
             "median [90% width ratio] of each parameter the case narrows.", "",
             "| parameter | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    flagged = []
    for name in shown:
        cells = []
        for label in labels:
            row = frame[(frame.reading == label) & (frame.parameter == name)].iloc[0]
            cells.append(f"{row['median']:.3g} [{row.width_ratio:.2f}]")
            if abs(row["median"] - base.loc[name, "median"]) > base.loc[name, "prior_range"] / 3:
                flagged.append(f"`{name}` under {label}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += ["", "Resting on a reading (median moved by more than a third of its prior "
              "range): " + (", ".join(flagged) if flagged else "none") + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.studies.calibration.thresholds")
    parser.add_argument("file", nargs="?", default=ROOT / "experiments" / "calibrate_case.toml")
    parser.add_argument("--reference", type=Path, required=True,
                        help="the finished calibration of FILE whose table to condition on")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "calibration")
    args = parser.parse_args(argv)
    spec = load_calibration(args.file)
    frame = sensitivity(spec, args.reference)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "thresholds.md").write_text(render(frame, spec))
    print(f"wrote {args.out / 'thresholds.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

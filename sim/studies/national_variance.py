"""What the national view's intervals carry: the variance across replicates of each rule's
national shares, split into the sites' luck, the parameters (and the country, when it is
redrawn) and the model's form (``sim.analysis.variance.split_replicates``)."""

from __future__ import annotations

import json

import pandas as pd

from sim.analysis.variance import forms_of, split_replicates
from sim.core.registry import PARAMETERS
from sim.studies.national import NationalSpec, _draw


def variance_table(shares: pd.DataFrame, spec: NationalSpec) -> pd.DataFrame:
    """One row per rule and outcome: the variance of the national share across replicates
    (``shares``: per rule and replicate, the shares that piloted and integrated;
    ``sim.studies.national.NationalResult.replicate_shares``)
    and its luck, parameters and model-form shares. Under a posterior replicate *r* takes
    draw *r* (cycling), so its structural choices are the draw's."""
    choices = [n for n, p in PARAMETERS.items() if p.kind == "choice"]
    set_by_approach = json.loads(spec.approach_values or "{}")
    rows = []
    for rule, part in shares.groupby("rule", sort=False):
        part = part.sort_values("replicate")
        forms = None
        if spec.posterior:
            held = forms_of([_draw(spec.posterior, spec.posterior_sha256, int(r))
                             for r in part.replicate], choices)
            forms = held[[c for c in held.columns if c not in set_by_approach]] \
                if len(held.columns) else None
        for outcome in ("pilot", "integrated"):
            split = split_replicates(part[outcome].to_numpy(float), spec.sites, forms)
            largest = max(split.by_form, key=lambda k: split.by_form[k]) if split.by_form \
                else ""
            rows.append({"rule": rule, "outcome": outcome, "replicates": len(part),
                         "sd": split.total ** 0.5, "luck_share": split.stochastic,
                         "parameters_share": split.parametric,
                         "structural_share": split.structural,
                         "largest_structural": largest,
                         "largest_structural_share": split.by_form.get(largest, float("nan"))})
    return pd.DataFrame(rows)

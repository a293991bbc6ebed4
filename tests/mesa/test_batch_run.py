"""Compatible with Mesa's tools: mesa.batch_run gives what icsim run gives."""

import json

import mesa

import sim
from sim.ui.cli import main


def test_batch_run_matches_run_project_and_cli(tmp_path):
    params = {"turnover_rate": 0.2, "clinical_leadership": 0.6}
    seeds = [0, 1, 2, 3]
    rows = mesa.batch_run(sim.IntegrationModel, parameters=params, rng=seeds, max_steps=60,
                          number_processes=1, display_progress=False)
    assert len(rows) == len(seeds)
    for row in rows:
        seed = seeds[row["iteration"]]
        summary = sim.run_project(seed=seed, **params)
        assert row["outcome"] == summary["outcome"]
        assert row["progress"] == summary["final_progress"]
        assert row["dac_team_commitment"] == summary["dac_team_commitment"]
    out = tmp_path / "run"
    assert main(["run", "--seed", "2", "--set", "turnover_rate=0.2",
                 "--set", "clinical_leadership=0.6", "--out", str(out)]) == 0
    cli = json.loads((out / "summary.json").read_text())
    row = next(r for r in rows if seeds[r["iteration"]] == 2)
    assert cli["outcome"] == row["outcome"]

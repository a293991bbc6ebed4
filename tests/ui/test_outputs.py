"""Every command that writes takes the directory lock, never mixes two jobs' outputs, and
a rerun into its own --out replaces its own outputs completely (issue 23, item 7)."""

from __future__ import annotations

import json

import pytest
from conftest import icsim

from sim.experiment.store import DirectoryLock

COMPARE = ("compare", "baseline", "--replicates", "4", "--months", "12", "--workers", "1",
           "--quiet")


def one_line_refusal(proc, culprit: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0], lines


def test_compare_and_run_wait_for_no_one_else_in_their_out(tmp_path):
    out = tmp_path / "shared"
    with DirectoryLock(out):  # another icsim job (a national run, say) holds --out
        one_line_refusal(icsim(*COMPARE, "--out", str(out)), "in use by another icsim job")
        one_line_refusal(icsim("run", "--months", "6", "--out", str(out)), "in use")
    assert sorted(p.name for p in out.iterdir()) == [".icsim.lock"]


def test_compare_does_not_write_into_a_sweep_or_another_commands_outputs(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "manifest.json").write_text("{}")
    one_line_refusal(icsim(*COMPARE, "--out", str(sweep)), "holds a sweep or national run")
    ran = tmp_path / "ran"
    assert icsim("run", "--months", "6", "--out", str(ran)).returncode == 0
    one_line_refusal(icsim(*COMPARE, "--out", str(ran)), "holds the outputs of icsim run")
    assert (ran / "summary.json").exists() and not (ran / "comparison.csv").exists()


@pytest.mark.slow
def test_a_rerun_replaces_its_own_outputs_completely(tmp_path):
    out = tmp_path / "cmp"
    assert icsim(*COMPARE, "--format", "png,svg", "--out", str(out)).returncode == 0
    assert (out / "outcomes.svg").exists()
    mine = out / "notes.txt"  # a file icsim did not write is left alone by the same rerun
    mine.write_text("keep")
    assert icsim(*COMPARE, "--format", "png", "--out", str(out)).returncode == 0
    assert mine.read_text() == "keep"
    names = sorted(p.name for p in out.iterdir()
                   if not p.name.startswith(".") and p != mine)
    assert not any(name.endswith(".svg") for name in names), names
    ledger = json.loads((out / ".icsim-outputs.json").read_text())
    assert ledger["command"] == "compare" and sorted(ledger["files"]) == names


def test_a_refused_compare_leaves_no_directory(tmp_path):
    out = tmp_path / "new" / "cmp"
    proc = icsim("compare", "utopia", "--out", str(out))
    one_line_refusal(proc, "utopia")
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_the_same_figure_written_twice_is_byte_identical(tmp_path):
    """Issue 22 item 5: a figure saved twice (SVG, PDF, PNG) gives the same bytes -- no
    random SVG ids, no dates -- so regenerating the published figures leaves git clean."""
    import numpy as np
    import pandas as pd

    from sim.analysis.stats import kaplan_meier
    from sim.report import figures as plots

    months = pd.Series([5.0, 10.0, 10.0, 20.0, 30.0, np.nan, np.nan])
    for fmt in ("svg", "pdf", "png"):
        written = []
        for attempt in (1, 2):
            fig = plots.time_to_pilot_figure({"a": kaplan_meier(months, 60)}, 60)
            written.append(plots.save(fig, tmp_path / f"f{attempt}.{fmt}").read_bytes())
        assert written[0] == written[1], fmt
    svg = (tmp_path / "f1.svg").read_text()
    assert "<dc:date>" not in svg and "CreationDate" not in \
        (tmp_path / "f1.pdf").read_bytes().decode("latin-1")


@pytest.mark.slow
def test_figures_read_at_page_width_with_whole_months_and_whole_counts(tmp_path):
    """Issue 22 item 14: whole-month ticks, an integer colour bar for PRIM's parameter
    counts, y labels on the calibration marginals, national_pilot at a page's width."""
    import numpy as np
    import pandas as pd

    from sim.report import figures as plots

    rules = ["none", "competitive", "targeted", "universal_small"]
    rows = []
    for rule in rules:
        for month in range(0, 43):
            row = {"rule": rule, "month": month}
            for group in ("all", "funded", "unfunded"):
                row |= {f"pilot_{group}": month / 60, f"pilot_{group}_lo": month / 70,
                        f"pilot_{group}_hi": month / 50}
            rows.append(row)
    fig = plots.national_figure(pd.DataFrame(rows))
    path = plots.save(fig, tmp_path / "national_pilot.png")
    from PIL import Image

    width, height = Image.open(path).size
    assert width <= 1700 and height < 2 * width  # 8 inches at 200 dpi, two panels a row
    for ax in fig.axes:
        if ax.get_visible():
            ticks = ax.get_xticks()
            assert np.allclose(ticks, np.round(ticks)), ticks  # no 42.5
    trajectory = pd.DataFrame({"coverage": [1.0, 0.8, 0.6], "density": [0.2, 0.4, 0.7],
                               "res_dim": [0, 1, 3]})
    fig = plots.prim_tradeoff(trajectory, 1, "t")
    plots.save(fig, tmp_path / "prim.png")
    bar = fig.axes[-1]
    assert np.allclose(bar.get_yticks(), np.round(bar.get_yticks()))
    draws = pd.DataFrame({"progress_rate": np.linspace(0.1, 0.3, 50)})
    fig = plots.posterior_marginals_figure("c", {"progress_rate": (0.05, 0.4)}, draws,
                                           ["progress_rate"])
    assert fig.axes[0].get_ylabel()


def test_the_funded_gap_legend_shows_every_swatch_and_covers_no_bar(tmp_path):
    """A rule that funds no site (its funded bar of height 0) came first and left the
    legend's 'funded sites' swatch blank, and the legend lay over the bars."""
    import matplotlib.colors as mcolors
    import pandas as pd

    from sim.report import figures as plots
    from sim.report.palette import PALETTE

    nan = float("nan")
    table = pd.DataFrame({
        "rule": ["none", "competitive"], "p_pilot_funded": [nan, 0.95],
        "p_pilot_funded_lo": [nan, 0.9], "p_pilot_funded_hi": [nan, 1.0],
        "p_pilot_unfunded": [0.6, 0.5], "p_pilot_unfunded_lo": [0.5, 0.4],
        "p_pilot_unfunded_hi": [0.7, 0.6], "p_pilot": [0.6, 0.62], "p_pilot_lo": [0.5, 0.5],
        "p_pilot_hi": [0.7, 0.7]})
    fig = plots.funded_gap_figure(table)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    plots.save(fig, tmp_path / "gap.png")  # drawn: the layout is settled
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "funded sites", "unfunded sites", "all sites"]
    colours = [mcolors.to_hex(h.get_facecolor()) for h in legend.legend_handles]
    assert colours == [mcolors.to_hex(PALETTE[c]) for c in ("blue", "orange", "green")]
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    box, axes_box = legend.get_window_extent(renderer), fig.axes[0].get_window_extent(renderer)
    assert box.y0 >= axes_box.y1  # above the plotting area, over no bar

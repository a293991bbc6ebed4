"""Every notebook runs top to bottom on a fresh install (outputs are not committed), and
every cell that draws shows its figure inline: an ``image/png`` output, not the text stub
``<Figure size ...>`` that a forced non-interactive backend leaves behind."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))

#: A cell draws if it calls a figure function, pyplot, a pandas/Axes plot, or displays a
#: saved image.
DRAWS = re.compile(r"_figure\(|\bplt\.|\.plot\(|\bsubplots\(|\bImage\(")


def drawing_cells(book) -> list[int]:
    return [i for i, cell in enumerate(book.cells)
            if cell.cell_type == "code" and DRAWS.search(cell.source)]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


def test_drawing_cells_are_recognised():
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("plots.timeseries_figure(frame)"),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots()"),
        nbformat.v4.new_code_cell("display(Image(path))"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nx = 1"),
        nbformat.v4.new_markdown_cell("plots.timeseries_figure(frame)"),
    ])
    assert drawing_cells(book) == [0, 1, 2]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures(path, tmp_path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name} is committed with outputs"
    drawing = drawing_cells(book)
    assert drawing, f"{path.name} has no cell that draws"
    client = NotebookClient(book, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    for i in drawing:
        outputs = book.cells[i].outputs
        kinds = [set(o.get("data", {})) for o in outputs]
        assert any("image/png" in k for k in kinds), (
            f"{path.name} cell {i} draws but shows no image: "
            f"{[o.get('data', {}).get('text/plain', o.get('text', '')) for o in outputs]}")
        stubs = [o["data"]["text/plain"] for o in outputs
                 if "image/png" not in o.get("data", {}) and
                 str(o.get("data", {}).get("text/plain", "")).startswith("<Figure")]
        assert not stubs, f"{path.name} cell {i} shows a figure as text: {stubs}"


@pytest.mark.slow
def test_importing_sim_chooses_no_backend():
    """Jupyter must keep its inline backend: ``import sim`` and ``sim.report.figures`` set none."""
    import os
    import subprocess
    import sys

    code = ("import matplotlib, sim, sim.report.figures, sim.ui.dashboard_views;"
            "print(matplotlib.rcParams._get_backend_or_none())")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    assert out == "None"

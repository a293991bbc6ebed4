"""Every notebook runs top to bottom on a fresh install (outputs are not committed), and
every cell that draws shows its figure inline: an ``image/png`` output, not the text stub
``<Figure size ...>`` that a forced non-interactive backend leaves behind. Its HTML version
(``make notebooks``: ``tools/export_notebooks.py``) opens with no network: it names no
external host, loads nothing but inline ``data:`` images, and a live widget is replaced by
a note that says how to open it."""

import importlib.util
import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RESULTS = ROOT / "results" / "notebooks"

_spec = importlib.util.spec_from_file_location("export_notebooks",
                                               ROOT / "tools" / "export_notebooks.py")
assert _spec is not None and _spec.loader is not None
export = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export)

#: Every attribute that makes a browser load or link something.
ATTRIBUTE = re.compile(r"""(?i)(?<![\w-])(?:src|href|srcset|action|poster|formaction)"""
                       r"""\s*=\s*["']?([^"'\s>]*)""")

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


def loaded(html: str) -> list[str]:
    """What a page loads or links that is not inline data, a fragment or this machine."""
    return [v for v in ATTRIBUTE.findall(html)
            if not (v.startswith(("data:", "#")) or v == ""
                    or re.match(r"(?i)https?://(127\.0\.0\.1|localhost)[:/]", v))]


def test_external_hosts_are_found():
    page = """<script src="https://cdn.example.org/require.js"></script>
    <img src="//images.example.net/i.png"> <style>a { background: url( '//fonts.example.com/f') }
    @import "//css.example.io/x.css";</style> <a href="http://127.0.0.1:8765">dashboard</a>
    <a href="http://localhost:8888/lab">lab</a> new WebSocket("wss://user@ws.example.com:443/s")
    <img src="data:image/png;base64,iVBORw0KGgo="> HTTPS://Upper.Example.COM/x"""
    assert export.external_hosts(page) == [
        "cdn.example.org", "css.example.io", "fonts.example.com", "images.example.net",
        "upper.example.com", "ws.example.com"]
    assert export.external_hosts('<a href="http://127.0.0.1:8765">x</a> // a comment') == []
    assert loaded(page) == ["https://cdn.example.org/require.js", "//images.example.net/i.png"]


def test_style_comments_are_removed_and_nothing_else():
    page = ("<p>/* kept: not a style sheet */</p><style type='text/css'>\n/* see "
            "https://example.com/colours */ a { color: red; } /* two */</style>")
    assert export.strip_css_comments(page) == (
        "<p>/* kept: not a style sheet */</p><style type='text/css'>\n a { color: red; } "
        "</style>")


def _widget_notebook():
    """A notebook as a widget, a figure and Markdown leave it after running."""
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\nRun `icsim dashboard`."),
        nbformat.v4.new_code_cell("page", outputs=[nbformat.v4.new_output(
            "display_data", data={export.WIDGET_VIEW: {"model_id": "abc", "version_major": 2,
                                                       "version_minor": 0},
                                  "text/plain": "Cannot show ipywidgets in text"})]),
        nbformat.v4.new_code_cell("figure()", outputs=[nbformat.v4.new_output(
            "execute_result", execution_count=2,
            data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]),
    ])
    book.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"abc": {"model_name": "Html", "state": {
            "attributes": {"src": "https://solara.dev/static/public/success.html"}}}},
        "version_major": 2, "version_minor": 0}}
    return book


@pytest.mark.slow
def test_the_offline_page_loads_nothing_and_replaces_the_widget_by_a_note():
    """nbconvert's own page loads require.js and the widget renderer from CDNs (the check
    finds them); the offline page loads nothing, shows the figure inline and a note where
    the widget was."""
    from nbconvert import HTMLExporter

    plain, _ = HTMLExporter(template_name="lab").from_notebook_node(_widget_notebook())
    assert export.external_hosts(plain) and loaded(plain)
    html = export.offline_html(_widget_notebook())
    assert export.external_hosts(html) == [] and loaded(html) == []
    assert "<script src" not in html and "widget-state" not in html
    assert 'src="data:image/png;base64,iVBORw0KGgo=' in html
    assert "icsim dashboard --port 8765" in html and "static" in html


def test_tex_is_refused_offline():
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "The share is $p(1 - p)$.")])
    assert export.tex_cells(book) == [0]
    with pytest.raises(ValueError, match="TeX"):
        export.offline_html(book)
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "*P(pilot by month m)*, 95% intervals, `$HOME`")])
    assert export.tex_cells(plain) == []


def test_exported_pages_in_results_name_no_external_host():
    """The pages ``make notebooks`` wrote (when it has run here; the export checks them
    as it writes them, and the slow test below exports every notebook afresh)."""
    pages = sorted(RESULTS.glob("*.html"))
    if not pages:
        pytest.skip("make notebooks has not run here (no results/notebooks/*.html)")
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert export.external_hosts(html) == [], page.name
        assert loaded(html) == [], page.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures_and_its_page_is_offline(path, tmp_path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name} is committed with outputs"
    drawing = drawing_cells(book)
    assert drawing, f"{path.name} has no cell that draws"
    # A first use on this machine, outside pytest, as a class would meet it: a fresh
    # Solara home, and no PYTEST_CURRENT_TEST (Solara skips its checks when it is set).
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["SOLARA_HOME"] = str(tmp_path / "solara_home")
    export.execute(book, tmp_path, timeout=180, env=env)
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
    # nothing the notebook shows in Jupyter reaches out either (Solara's hidden iframes to
    # solara.dev were in the outputs and the widget state)
    assert export.external_hosts(nbformat.writes(book)) == []
    widgets = sum(export.WIDGET_VIEW in o.get("data", {})
                  for c in book.cells if c.cell_type == "code" for o in c.outputs)
    html = export.offline_html(book)
    assert export.external_hosts(html) == [] and loaded(html) == []
    assert "<script src" not in html and "widget-state" not in html
    assert html.count('src="data:image/png;base64,') >= len(drawing)
    assert html.count("icsim dashboard --port 8765") == widgets
    assert "Cannot show widget" not in html
    if path.name == "04_dashboard.ipynb":
        assert widgets == 1  # the dashboard itself, replaced in the page by the note


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

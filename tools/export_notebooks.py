"""Run the notebooks and write HTML versions that open with no network (``make notebooks``).

    .venv/bin/python tools/export_notebooks.py [--out results/notebooks] [NOTEBOOK ...]
    .venv/bin/python tools/export_notebooks.py --check results/notebooks

nbconvert's own HTML export loads require.js, MathJax, Mermaid and the widget renderer
from CDNs, and a live widget (the dashboard of notebook 04) cannot run in a static page.
Here every notebook is executed (in its own folder, like ``jupyter nbconvert --execute``),
then:

* a widget's output is replaced by a note that says how to open the live version
  (``icsim dashboard``, or the notebook in Jupyter), and the notebook's widget state is
  dropped; the notebook itself draws the static pictures that stand in for it;
* the page is written from nbconvert's ``lab`` template without the blocks that load
  scripts from a CDN (require.js, MathJax, Mermaid, the widget renderer); figures are
  inline ``data:`` images already, and images in Markdown are embedded;
* comments are removed from the inlined style sheets (JupyterLab's theme cites web pages
  in them), so that the page names no external host at all;
* every page is checked (:func:`external_hosts`): one that still names a host other than
  this machine fails the export. TeX in Markdown fails too: MathJax is not there to
  render it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Hosts that are this machine: a page may link to them (the dashboard's address).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})

#: An absolute URL with a network scheme; group 1 is its authority (user, host, port).
_URL = re.compile(r"(?i)\b(?:https?|wss?|ftps?)://([^/\s\"'<>`()\\?#]+)")
#: A scheme-relative reference (``//host/...``) where a page loads or links something:
#: an attribute, a CSS ``url(...)`` or ``@import``.
_RELATIVE = re.compile(
    r"""(?i)(?:(?<![\w-])(?:src|href|srcset|action|poster|data|formaction|background)\s*=\s*["']?"""
    r"""|\burl\(\s*["']?|@import\s+["'])\s*//([^/\s"'<>`()\\?#]+)""")
#: TeX in Markdown, which needs MathJax: $...$, $$...$$, \( \), \[ \].
_TEX = re.compile(r"\$\$|(?<![\\$])\$[^$\s][^$\n]*\$|\\\(|\\\[")

#: The lab template without the blocks that load a script from a CDN.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: What stands where a live widget was.
WIDGET_NOTE = (
    "*A live widget runs here when the notebook is open in Jupyter; this page is a static "
    "copy and cannot run it.* The project's widget is the dashboard; it runs in the "
    "browser with\n\n"
    "    icsim dashboard --port 8765\n\n"
    "(then open http://127.0.0.1:8765), and in Jupyter with "
    "`jupyter lab notebooks/04_dashboard.ipynb`.")


def _host(authority: str) -> str:
    host = authority.rsplit("@", 1)[-1]
    if host.startswith("["):  # [::1]:8765
        return host[1:].split("]", 1)[0].lower()
    return host.split(":", 1)[0].lower().rstrip(".")


def external_hosts(text: str) -> list[str]:
    """Every host other than this machine that ``text`` names in a URL (``https://host``,
    ``ws://host``, …) or loads or links scheme-relative (``src="//host/..."``,
    ``url(//host/...)``), sorted, each once. A page that opens offline gives ``[]``."""
    found = {_host(m.group(1)) for m in _URL.finditer(text)}
    found |= {_host(m.group(1)) for m in _RELATIVE.finditer(text)}
    return sorted(h for h in found if h and h not in LOCAL_HOSTS)


def tex_cells(book: Any) -> list[int]:
    """The Markdown cells with TeX in them (which would need MathJax to render)."""
    return [i for i, cell in enumerate(book.cells)
            if cell.cell_type == "markdown" and _TEX.search(cell.source)]


def execute(book: Any, folder: Path, timeout: int = 600,
            env: Mapping[str, str] | None = None) -> Any:
    """Run every cell of ``book`` in place, with ``folder`` as the working directory and
    ``env`` as the kernel's environment (default: this process's)."""
    from nbclient import NotebookClient

    client = NotebookClient(book, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    kwargs = {} if env is None else {"env": dict(env)}
    client.execute(**kwargs)
    return book


def drop_widgets(book: Any) -> int:
    """Replace each widget output by :data:`WIDGET_NOTE` and drop the widget state (it
    would load the widget renderer from a CDN); the number of outputs replaced."""
    import nbformat

    replaced = 0
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            if WIDGET_VIEW in output.get("data", {}):
                replaced += 1
                outputs.append(nbformat.v4.new_output(
                    "display_data", data={"text/markdown": WIDGET_NOTE,
                                          "text/plain": WIDGET_NOTE}))
            else:
                outputs.append(output)
        cell.outputs = outputs
    book.metadata.pop("widgets", None)
    return replaced


_STYLE = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.DOTALL | re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def strip_css_comments(html: str) -> str:
    """``html`` with the comments of its ``<style>`` blocks removed."""
    return _STYLE.sub(lambda m: m.group(1) + _CSS_COMMENT.sub("", m.group(2)) + m.group(3),
                      html)


def offline_html(book: Any) -> str:
    """The executed ``book`` as one self-contained HTML page (widgets replaced by a note,
    no script from a CDN, no comments in the style sheets). Raises ``ValueError`` if a
    Markdown cell has TeX, or the page still names an external host."""
    import jinja2
    from nbconvert import HTMLExporter

    tex = tex_cells(book)
    if tex:
        raise ValueError(f"Markdown cells {tex} have TeX, which needs MathJax from a CDN")
    drop_widgets(book)
    exporter = HTMLExporter(
        extra_loaders=[jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
        template_file="offline.html.j2", embed_images=True)
    html, _ = exporter.from_notebook_node(book)
    html = strip_css_comments(html)
    hosts = external_hosts(html)
    if hosts:
        raise ValueError(f"the page still names external hosts: {', '.join(hosts)}")
    return str(html)


def export(paths: Iterable[Path], out: Path, timeout: int = 600,
           env: Mapping[str, str] | None = None) -> list[Path]:
    """Execute each notebook and write ``out/<name>.html``; the pages written."""
    import nbformat

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        path = Path(path)
        print(f"{path}: running", file=sys.stderr, flush=True)
        book = execute(nbformat.read(path, as_version=4), path.resolve().parent, timeout, env)
        try:
            html = offline_html(book)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        target = out / f"{path.stem}.html"
        target.write_text(html, encoding="utf-8")
        written.append(target)
        print(f"{path}: -> {target}", file=sys.stderr, flush=True)
    return written


def check(folder: Path) -> dict[str, list[str]]:
    """The external hosts each HTML page under ``folder`` names (only the pages with any)."""
    pages = {p.name: external_hosts(p.read_text(encoding="utf-8"))
             for p in sorted(folder.glob("*.html"))}
    return {name: hosts for name, hosts in pages.items() if hosts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=Path("results/notebooks"),
                        help="where the HTML goes (default: results/notebooks)")
    parser.add_argument("--timeout", type=int, default=600,
                        help="seconds a cell may take (default: 600)")
    parser.add_argument("--check", type=Path, metavar="DIR",
                        help="only check the HTML pages in DIR for external hosts")
    args = parser.parse_args(argv)
    if args.check is not None:
        if not any(args.check.glob("*.html")):
            print(f"no HTML pages in {args.check}", file=sys.stderr)
            return 1
        bad = check(args.check)
        for name, hosts in bad.items():
            print(f"{args.check / name}: names {', '.join(hosts)}", file=sys.stderr)
        return 1 if bad else 0
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    try:
        export(paths, args.out, args.timeout, os.environ)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

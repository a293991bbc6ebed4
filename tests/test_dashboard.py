"""The dashboard in a real browser: serve it, open it in headless Chromium, step the
model, and check that the status and the plots update."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Chromium not found (Debian package 'chromium')")

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    port = _free_port()
    log = open(tmp_path_factory.mktemp("dash") / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "sim", "dashboard", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the dashboard did not start within 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_dashboard_steps_and_plots_update(dashboard, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(dashboard)
        expect(page.get_by_text("Month 0 of 60")).to_be_visible(timeout=60_000)
        for name in ("scenario", "turnover_rate (per year)", "clinical_leadership (share)"):
            expect(page.get_by_text(name, exact=True).first).to_be_visible()
        figure = page.locator("img").last
        before = figure.get_attribute("src")
        assert before and before.startswith(("data:image/png", "blob:"))
        for _ in range(3):
            page.get_by_role("button", name="Step").click()
        expect(page.get_by_text("Month 3 of 60")).to_be_visible(timeout=30_000)
        page.wait_for_function(
            "src => { const imgs = document.querySelectorAll('img');"
            " return imgs[imgs.length - 1].src !== src; }", arg=before, timeout=30_000)
        after = page.locator("img").last.get_attribute("src")
        assert after != before
        page.screenshot(path=str(tmp_path / "dashboard.png"))
        browser.close()

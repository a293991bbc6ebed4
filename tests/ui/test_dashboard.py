"""The dashboard in a real browser: serve it, open it in headless Chromium, and drive it
as a teacher would: step, pick a scenario (the sliders move), apply and restart, run to
the end, and run many projects.

Without Chromium the test skips, unless ``ICSIM_REQUIRE_BROWSER=1`` (set by ``.ci/run``),
which turns the skip into a failure.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sim.core.registry import PARAMETERS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("ICSIM_REQUIRE_BROWSER", "") not in ("", "0")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync"]


def _require_browser() -> None:
    """Skip without a browser, or fail when the environment demands one."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed"
    if CHROMIUM is None:
        problem = "Chromium not found (Debian package 'chromium')"
    if problem is not None:
        if REQUIRED:
            pytest.fail(f"ICSIM_REQUIRE_BROWSER is set but {problem}")
        pytest.skip(problem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    _require_browser()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("dash") / "server.log"
    log = open(log_path, "w")  # noqa: SIM115
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
    yield url, log_path, proc.pid
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def _last_src(page) -> str:
    return page.locator("img").last.get_attribute("src")


@pytest.mark.slow
def test_dashboard_driven_like_a_class(dashboard, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, log_path, pid = dashboard
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url)
        # Month 0: the outcome is not yet known; slider values are shown as text.
        expect(page.get_by_text("Month 0 of 60")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("outcome: in progress")).to_be_visible()
        turnover = PARAMETERS["turnover_rate"]
        expect(page.get_by_text(f"Staff turnover = {turnover.default:.3f} (per year)",
                                exact=True)).to_be_visible()
        regulation = PARAMETERS["regulatory_alignment"]
        expect(page.get_by_text(f"Regulatory alignment = {regulation.default:.2f} (share)",
                                exact=True)).to_be_visible()
        # Mesa's internal controls are not on the page.
        for internal in ("Use Threads", "Render Interval", "PAGE"):
            expect(page.get_by_text(internal, exact=True)).to_have_count(0)
        figures = page.locator("img")
        expect(figures).to_have_count(2)
        before = figures.first.get_attribute("src")
        assert before and before.startswith(("data:image/png", "blob:"))
        # The figure is sized to the window, not a thumbnail.
        assert figures.first.bounding_box()["width"] > 900

        # Step: the month and the figure change.
        for _ in range(3):
            page.get_by_role("button", name="Step").click()
        expect(page.get_by_text("Month 3 of 60")).to_be_visible(timeout=30_000)
        page.wait_for_function("src => document.querySelector('img').src !== src",
                               arg=before, timeout=30_000)

        # Pick a scenario: its values move the sliders, and the page says to restart.
        page.locator(".v-select__slot").first.click()
        # Readable labels, and the scenario files of scenarios/ listed beside the names.
        expect(page.get_by_role(
            "option", name="Flexible national approach with three national waves "
            "(scenarios/case_waves.toml)", exact=True)).to_have_count(1)
        page.get_by_role("option", name="Enabling national approach (enabling_national)",
                         exact=True).click()
        expect(page.get_by_text("Regulatory alignment = 0.75 (share)", exact=True)) \
            .to_be_visible(timeout=30_000)
        expect(page.get_by_text("Payment integration = 0.70 (share)", exact=True)) \
            .to_be_visible()
        expect(page.get_by_text("press Apply and restart", exact=False)).to_be_visible()
        expect(page.get_by_text("Month 3 of 60")).to_be_visible()  # nothing restarted yet
        page.get_by_role("button", name="Apply and restart").click()
        expect(page.get_by_text("Month 0 of 60")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("The run on screen uses these settings.")).to_be_visible()
        expect(page.get_by_text("scenario Enabling national approach (enabling_national), "
                                "seed 0")).to_be_visible()

        # Play animates month by month at the chosen speed; Pause stops it.
        page.get_by_role("button", name="slow", exact=True).click()
        page.get_by_role("button", name="Play").click()
        page.wait_for_function("() => /Month [1-9]\\d* of 60/.test(document.body.innerText)",
                               timeout=30_000)
        page.get_by_role("button", name="Pause").click()
        expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=30_000)

        # Run to end: the final outcome replaces "in progress".
        page.get_by_role("button", name="Run to end").click()
        expect(page.get_by_role("button", name="Run to end")).to_be_disabled(timeout=60_000)
        expect(page.get_by_text("outcome: in progress")).to_have_count(0)
        status = page.locator("p", has_text="outcome:").first.inner_text()
        # The horizon, or earlier if the project integrated or collapsed.
        assert re.search(r"Month (60 of 60.*outcome: (pilot|stalled)|"
                         r"\d+ of 60.*outcome: (integrated|collapsed))", status), status

        # Many runs: a third figure with outcome shares over 100 runs.
        page.get_by_role("button", name="100", exact=True).click()
        page.get_by_role("button", name="Run many").click()
        expect(page.get_by_text("100 runs", exact=False).first).to_be_visible(timeout=120_000)
        expect(figures).to_have_count(3, timeout=60_000)
        summary = page.get_by_text("(seeds 0–99)", exact=False).first.inner_text()
        assert "pilot" in summary and "stalled" in summary, summary
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        # A projector's 1024 px: the sidebar's reset button shows its whole text.
        page.set_viewport_size({"width": 1024, "height": 768})
        reset = page.get_by_role("button", name="Reset levers to the scenario")
        expect(reset).to_be_visible()
        assert reset.evaluate("b => b.scrollWidth <= b.clientWidth + 1")
        box = reset.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1024
        browser.close()
    # Offline and private: the server (icsim became it by exec) runs with no version
    # check against the package index and with Solara's telemetry off.
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        assert b"--no-check-version" in (proc / "cmdline").read_bytes().split(b"\0")
        environ = (proc / "environ").read_bytes().split(b"\0")
        assert b"SOLARA_TELEMETRY_MIXPANEL_ENABLE=False" in environ
    assert "New version of Solara available" not in log_path.read_text()


#: In the browser: the points of the team figure's right strip (its colour bar) that lie in
#: the window, and what the page shows on top at each (it must be the figure itself).
COVERING = """img => {
  const r = img.getBoundingClientRect();
  const out = [];
  for (let fx = 0.90; fx <= 0.985; fx += 0.02) {
    for (let fy = 0.05; fy <= 0.95; fy += 0.05) {
      const x = r.left + fx * r.width, y = r.top + fy * r.height;
      if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
      const top = document.elementFromPoint(x, y);
      out.push(top === img ? '' : (top ? top.outerHTML.slice(0, 80) : 'nothing'));
    }
  }
  return out;
}"""


@pytest.mark.slow
def test_at_1024_px_nothing_covers_the_colour_bar_and_the_scenario_is_whole(dashboard):
    """Issue 22 item 13: at a projector's 1024 px, Solara's "This website runs on Solara"
    banner lay over the team figure's colour bar. No banner (nor the loader's "Made with
    Solara", both links to solara.dev), and nothing on top of the colour bar wherever the
    page is scrolled. The picker shows the scenario's whole label (item 11), wrapped."""
    from playwright.sync_api import expect, sync_playwright

    url, _, _ = dashboard
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        page.goto(url)
        expect(page.get_by_text("Month 0 of 60")).to_be_visible(timeout=60_000)
        figures = page.locator("img")
        expect(figures).to_have_count(2)
        expect(page.get_by_text("runs on Solara")).to_have_count(0)
        expect(page.get_by_text("Made with Solara")).to_have_count(0)
        assert page.locator("a[href*='solara.dev']").count() == 0
        chosen = page.locator(".icsim-picker .v-select__selection").first
        expect(chosen).to_have_text("Flexible national approach (baseline)")
        assert chosen.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        box = chosen.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1024 / 3
        team = figures.nth(1)
        checked = 0
        for block in ("end", "center", "start"):  # the colour bar at the window's foot too
            team.evaluate(f"img => img.scrollIntoView({{block: '{block}'}})")
            page.wait_for_timeout(300)
            tops = team.evaluate(COVERING)
            checked += len(tops)
            assert not any(tops), [t for t in tops if t]
        assert checked > 50  # the strip was in the window
        browser.close()


# ------------------------------------------------------------------ offline, no browser
@pytest.mark.slow
def test_dashboard_starts_offline_and_private(monkeypatch, capsys):
    """``icsim dashboard`` becomes Solara's server with the version check against the
    package index off and telemetry off -- as Solara itself reads its flags and settings."""
    import click
    from solara.__main__ import run as solara_run
    from solara.server.settings import Telemetry, ThemeSettings

    from sim.ui.cli import main

    started = {}

    def fake_execve(path, argv, env):
        started.update(path=path, argv=argv, env=env)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execve", fake_execve)
    with pytest.raises(SystemExit):
        main(["dashboard", "--port", str(_free_port())])
    argv, env = started["argv"], started["env"]
    assert argv[1:4] == ["-m", "solara", "run"]
    with solara_run.make_context("run", list(argv[4:])) as ctx:
        assert ctx.params["check_version"] is False
        assert ctx.params["host"] == "127.0.0.1" and ctx.params["open"] is False
        assert ctx.params["theme_loader"] == "plain"  # no "Made with Solara" link
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Telemetry().mixpanel_enable is False
    assert ThemeSettings().show_banner is False  # no "This website runs on Solara"
    assert isinstance(solara_run, click.Command)
    # shown inside Jupyter, importing the app turns telemetry off too
    from solara.server import settings

    import sim.ui.app  # noqa: F401

    assert settings.telemetry.mixpanel_enable is False


def test_dashboard_refuses_a_port_in_use(capsys):
    from sim.ui.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--port {port} is in use" in err[0]


# ------------------------------------------------------------------ the views, no browser
def test_run_reads_in_progress_until_it_ends():
    from sim.ui.dashboard_views import ProjectRun, Settings

    run = ProjectRun(Settings.make("baseline", 3, 24, {}))
    assert run.month == 0 and run.outcome_text == "in progress" and not run.done
    assert run.step() and run.month == 1
    run.run_to_end()
    assert run.done and run.month <= 24 and not run.step()
    assert run.outcome_text in ("pilot", "stalled", "integrated", "collapsed")
    assert len(run.engagement) == run.month + 1  # month 0 and every month stepped
    assert f"Month {run.month} of 24" in run.status_markdown()
    assert run.month == 24 or not run.model.running  # horizon, or integrated / collapsed


def test_stepped_run_matches_simulate():
    import sim
    from sim.ui.dashboard_views import ProjectRun, Settings

    run = ProjectRun(Settings.make("toolkit", 5, 60, {"turnover_rate": 0.3}))
    run.run_to_end()
    model = sim.simulate("toolkit", seed=5, months=60, turnover_rate=0.3)
    assert run.model.outcome == model.outcome
    assert run.model.pilot_month == model.pilot_month
    newcomers = run.newcomers()
    assert len(newcomers) <= run.model.turnover_events
    assert len(newcomers) > 0  # at 0.3 a year, 19 people over five years: someone leaves


def test_sliders_follow_the_scenario_and_show_registry_values():
    from sim.ui.dashboard_views import format_value, overrides_for, scenario_sliders

    base = scenario_sliders("baseline")
    assert base["regulatory_alignment"] == PARAMETERS["regulatory_alignment"].default
    national = scenario_sliders("enabling_national")
    assert national["regulatory_alignment"] == 0.75
    assert overrides_for("enabling_national", national) == {}
    assert overrides_for("enabling_national", {**national, "turnover_rate": 0.3}) == \
        {"turnover_rate": 0.3}
    assert format_value(PARAMETERS["turnover_rate"], 0.11) == "0.110"


def test_many_runs_are_the_summaries_of_single_runs():
    import sim
    from sim.ui.dashboard_views import many_runs, outcome_shares

    runs = many_runs("baseline", {"turnover_rate": 0.2}, n=12, seed=40, months=48)
    assert list(runs.seed) == list(range(40, 52))
    mesa = many_runs("baseline", {"turnover_rate": 0.2}, n=12, seed=40, months=48,
                     engine="mesa")
    assert list(runs.outcome) == list(mesa.outcome)  # the fast engine gives the same runs
    assert list(runs.pilot_month.astype("Float64").fillna(-1)) == \
        list(mesa.pilot_month.astype("Float64").fillna(-1))
    one = sim.run_project("baseline", seed=45, months=48, turnover_rate=0.2)
    assert runs.loc[runs.seed == 45, "outcome"].item() == one["outcome"]
    shares = outcome_shares(runs)
    assert shares.runs.sum() == 12
    assert ((shares.lo <= shares.share) & (shares.share <= shares.hi)).all()


def test_the_team_view_names_organisations_as_people_read_them():
    """Issue 22 item 11: the team view's rows say "(hospital trust)", not
    "(hospital_trust)"."""
    from sim.ui.dashboard_views import ProjectRun, Settings, team_figure

    run = ProjectRun(Settings.make("baseline", 0, 12, {}))
    run.run_to_end()
    rows = [t.get_text() for ax in team_figure(run).axes for t in ax.get_yticklabels()]
    assert rows and not any("_" in row for row in rows)
    assert any(row.endswith("(hospital trust)") for row in rows)
    assert any(row.endswith("(GP federation)") for row in rows)


def test_run_many_under_the_posterior_is_the_old_dict_per_run_path():
    """Issue 24: "Run many" packs the posterior's draws once (no dict per run) and gives
    the frame the dict-per-run path gave (main at c3df84e), bit for bit."""
    import pandas as pd

    from sim.core.registry import resolve
    from sim.core.scenarios import resolve_scenario
    from sim.experiment.posterior import CASE_POSTERIOR, load_posterior
    from sim.run import run_projects, with_draws
    from sim.ui.dashboard_views import many_runs

    runs = many_runs("toolkit", {"turnover_rate": 0.2}, n=25, seed=7, months=36,
                     posterior=CASE_POSTERIOR)
    resolved = resolve_scenario("toolkit", {"turnover_rate": 0.2})
    draws = load_posterior(CASE_POSTERIOR).to_dict("records")
    values = [resolve(v) for v in with_draws(resolved.values, draws, range(25))]
    old = run_projects(values, list(range(7, 32)), 36, schedule=resolved.schedule_list())
    old["seed"] = list(range(7, 32))
    old["scenario"] = "toolkit"
    old["months"] = 36
    pd.testing.assert_frame_equal(runs, old, check_exact=True)


def test_the_project_figure_shows_the_teams_frustration():
    """Case target T5 (frustration higher at month 36 than at month 6) must be visible: the
    project figure draws the team's mean frustration, month by month, from the model."""
    from sim.ui.dashboard_views import ProjectRun, Settings, project_figure

    run = ProjectRun(Settings.make("baseline", 4, 40, {}))
    run.run_to_end()
    fig = project_figure(run)
    lines = {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}
    frustration = lines["team frustration"]
    expected = run.frame()["frustration"].to_numpy()
    assert list(frustration.get_ydata()) == list(expected)
    assert expected[36] != expected[6]


def test_the_picker_lists_scenario_files_by_label_and_runs_them(tmp_path):
    """Issue 22 items 8 and 11: the files in scenarios/ are offered by readable label;
    picking one moves the sliders to its values and runs it with its changes; a file that
    cannot be read is named, not listed."""
    from sim.core.registry import resolve
    from sim.core.scenarios import resolve_scenario
    from sim.run import run_projects
    from sim.ui.dashboard_views import (
        ProjectRun,
        Settings,
        many_runs,
        scenario_choices,
        scenario_sliders,
    )

    folder = tmp_path / "scenarios"
    folder.mkdir()
    good = folder / "late.toml"
    good.write_text('name = "late"\ndescription = "Enabling late: from month 6"\n'
                    'source = "test"\nbase = "toolkit"\n[levers]\nturnover_rate = 0.3\n'
                    '[[changes]]\nmonth = 6\nregulatory_alignment = 0.9\n')
    (folder / "bad.toml").write_text('name = "bad"\n')
    choices, problems = scenario_choices([folder])
    assert choices["Flexible national approach (baseline)"] == "baseline"
    assert choices["Enabling national approach + Full local toolkit "
                   "(enabling_national+toolkit)"] == "enabling_national+toolkit"
    spec = choices[f"Enabling late ({good.resolve()})"]
    assert len(problems) == 1 and "bad.toml" in problems[0] and "description" in problems[0]
    assert scenario_sliders(spec)["turnover_rate"] == 0.3
    resolved = resolve_scenario(spec)
    runs = many_runs(spec, n=6, seed=3, months=24)
    expected = run_projects([resolve(resolved.values)] * 6, list(range(3, 9)), 24,
                            schedule=resolved.schedule_list())
    assert list(runs.mean_engagement) == list(expected.mean_engagement)
    without = run_projects([resolve(resolved.values)] * 6, list(range(3, 9)), 24)
    assert list(runs.mean_engagement) != list(without.mean_engagement)  # the change acts
    run = ProjectRun(Settings.make(spec, 3, 24, {}))
    assert run.model.p["regulatory_alignment"] == PARAMETERS["regulatory_alignment"].default
    run.run_to_end()
    assert run.model.p["turnover_rate"] == 0.3
    assert run.model.p["regulatory_alignment"] == 0.9  # changed at month 6

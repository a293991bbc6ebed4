"""The interactive dashboard: one integration project (a Mesa ``IntegrationModel``) driven
month by month in front of a class, with a team view and a many-runs view.

Serve it with ``icsim dashboard [--port N]`` (127.0.0.1), or show ``page`` in a Jupyter
cell (see notebooks/04_dashboard.ipynb).

* The controls on the left show their values at all times. Picking a scenario moves the
  sliders to that scenario's values (the registry's defaults, then the scenario's own).
  Nothing changes in the running project until **Apply and restart** is pressed; a notice
  says so while the controls differ from the run on screen.
* **Step** advances one month, **Play** / **Pause** animates at the speed chosen beside
  it (slow 1 s, normal about 0.4 s, fast 0.15 s a month; a slow machine shows every second
  or third month), **Run to end** finishes the run.
  The outcome reads "in progress" until the run is over.
* **Run many** runs a few hundred projects with the current settings (seeds from the
  chosen one on) and shows the outcome shares and the time to pilot: one run is one draw.

The page is built from Solara components around the Mesa model rather than Mesa's
``SolaraViz``, whose page always shows its own controls ("Use Threads", "Render
Interval", the page selector) and sizes the plots itself. The server runs offline and
privately: no version check against the package index, no telemetry (see ``sim.ui.cli``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import solara
import solara.checks
from solara.server import settings as _solara_settings
from solara.server import telemetry as _solara_telemetry

from sim.core.registry import PARAMETERS, principal
from sim.core.scenarios import scenario_label
from sim.experiment.posterior import CASE_POSTERIOR
from sim.ui import dashboard_views as views

_solara_settings.telemetry.mixpanel_enable = False  # also when shown inside Jupyter
# Shown in Jupyter for the first time on a machine, Solara (1.58.2, pinned) adds hidden
# iframes to solara.dev (an installation check, kept in the notebook's outputs and its HTML
# export), and its Jupyter telemetry asks api.ipify.org for the machine's address before
# it looks whether telemetry is on. The notebook route stays offline and private: neither.
setattr(solara.checks, "should_perform_jupyter_check", lambda: False)  # noqa: B010
setattr(_solara_telemetry, "jupyter_start", lambda: None)  # noqa: B010

MANY_CHOICES = [100, 300, 1000]
#: "Run many" under the shipped case posterior (the default) or the registry's values.
POSTERIOR_MODE, POINT_MODE = "case posterior", "point values"
MODE_WORDS = {
    POSTERIOR_MODE: "Under the **case posterior** (`data/case_posterior.parquet`): run *i* "
                    "takes posterior draw *i* for the parameters the calibration inferred, "
                    "under the scenario and the sliders, so the spread holds what the case "
                    "leaves uncertain as well as luck. The run on screen uses the registry's "
                    "point values, so it is not one of these runs.",
    POINT_MODE: "At the registry's **point values** (as `--point`): every run uses the "
                "values on screen, so the spread is luck alone; the run on screen is one of "
                "these runs.",
}
PLAY_INTERVAL = 0.1  # seconds between frames while playing
MONTH_SECONDS = 0.4  # target pace of Play: 60 months in about 25 s
#: Play speeds a teacher can pick: seconds a month (normal: 60 months in about 25 s).
SPEEDS = {"slow": 1.0, "normal": MONTH_SECONDS, "fast": 0.15}
DEFAULT = views.Settings.make("baseline", 0, 60, {})


def slider_label(name: str, value: Any) -> str:
    """``label = value (unit)``, the registry's readable label: the value is part of the
    label, so it is always visible."""
    p = PARAMETERS[name]
    return f"{p.display} = {views.format_value(p, value)} ({p.unit})"


@solara.component
def LeverSlider(name: str, values: solara.Reactive[dict[str, Any]]) -> None:
    """One principal lever, its bounds and step from the registry."""
    p = PARAMETERS[name]
    value = values.value[name]

    def set_value(v: Any) -> None:
        values.set({**values.value, name: v})

    with solara.Column(gap="0px"):
        solara.Text(slider_label(name, value), style={"font-size": "0.95em"})
        if p.kind == "int":
            solara.SliderInt("", value=int(value), min=int(p.low), max=int(p.high),
                             on_value=set_value)
        else:
            solara.SliderFloat("", value=float(value), min=p.low, max=p.high,
                               step=views.slider_step(p), on_value=set_value)


@solara.component
def Controls(scenario: solara.Reactive[str], seed: solara.Reactive[int],
             months: solara.Reactive[int], values: solara.Reactive[dict[str, Any]],
             pending: bool, apply: Callable[[], None]) -> None:
    """Scenario, seed, horizon and the principal levers, with Apply and restart."""

    # Named scenarios and the files in scenarios/, by readable label (read again when the
    # page is opened, so a file added meanwhile is listed).
    choices, problems = solara.use_memo(views.scenario_choices, [])
    labels = {spec: label for label, spec in choices.items()}

    def pick(label: str) -> None:
        spec = choices[label]
        scenario.set(spec)
        values.set(views.scenario_sliders(spec))

    # The chosen label wraps rather than being cut off in a narrow sidebar (1024 px).
    solara.Style(".icsim-picker .v-select__selection { white-space: normal; "
                 "overflow: visible; text-overflow: clip; max-width: 100%; }")
    solara.Select("scenario", values=list(choices),
                  value=labels.get(scenario.value, scenario.value), on_value=pick,
                  classes=["icsim-picker"])
    for problem in problems:
        solara.Warning(f"Not listed: {problem}", dense=True)
    with solara.Column(gap="0px"):
        solara.Text(f"seed = {seed.value}")
        solara.SliderInt("", value=seed, min=0, max=999)
        solara.Text(f"horizon = {months.value} months")
        solara.SliderInt("", value=months, min=12, max=120, step=6)
    solara.Button("Apply and restart", on_click=apply, color="primary", block=True,
                  icon_name="mdi-restart")
    if pending:
        solara.Warning("The controls differ from the run on screen: press "
                       "Apply and restart to run with them.", dense=True)
    else:
        solara.Success("The run on screen uses these settings.", dense=True)
    for level in ("system", "organisation", "team"):
        solara.Markdown(f"**{level.capitalize()} level**")
        for p in principal():
            if p.level == level:
                LeverSlider(p.name, values)
    # short enough not to be clipped in a narrow sidebar (a projector's 1024 px)
    solara.Style(".icsim-wrap .v-btn__content { white-space: normal; flex: 1 1 auto; }")
    solara.Button("Reset levers to the scenario", text=True, block=True,
                  classes=["icsim-wrap"], style={"height": "auto", "min-height": "36px"},
                  on_click=lambda: values.set(views.scenario_sliders(scenario.value)))


@solara.component
def ManyRuns(run: views.ProjectRun, done: bool) -> None:
    """A few hundred runs with the run's settings: outcome shares and time to pilot.

    ``done`` is passed so that the view redraws (marking this run) when the run ends.
    """
    count = solara.use_reactive(300)
    mode = solara.use_reactive(POSTERIOR_MODE)  # the case posterior (default) or --point
    # (settings, mode, n, runs) of the last batch
    result: solara.Reactive[tuple[views.Settings, str, int, pd.DataFrame] | None] = \
        solara.use_reactive(None)
    busy = solara.use_reactive(False)
    s = run.settings
    current = result.value if result.value is not None and result.value[0] == s \
        and result.value[1] == mode.value else None

    def go() -> None:
        busy.set(True)
        try:
            posterior = CASE_POSTERIOR if mode.value == POSTERIOR_MODE else None
            runs = views.many_runs(s.scenario, dict(s.overrides), n=count.value, seed=s.seed,
                                   months=s.months, posterior=posterior)
            result.set((s, mode.value, count.value, runs))
        finally:
            busy.set(False)

    def draw() -> bytes | None:
        if current is None:
            return None
        _, how, n, runs = current
        changed = " with changed levers" if s.overrides else ""
        title = (f"{scenario_label(s.scenario)}{changed}: {n} runs, "
                 f"seeds {s.seed}–{s.seed + n - 1}, {how}")
        # the run on screen is one of the runs only at the point values
        this_run = run.model.summary() if done and how == POINT_MODE else None
        return views.png_bytes(views.many_runs_figure(runs, s.months, title, this_run))

    png = solara.use_memo(draw, [id(current), done])

    solara.Markdown("### Many runs with these settings")
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.ToggleButtonsSingle(value=mode, values=[POSTERIOR_MODE, POINT_MODE])
        solara.ToggleButtonsSingle(value=count, values=MANY_CHOICES)
        solara.Button("Run many", on_click=go, color="primary", disabled=busy.value,
                      icon_name="mdi-chart-bar")
        if busy.value:
            solara.Text("running …")
    solara.Markdown(MODE_WORDS[mode.value])
    if current is None:
        solara.Markdown(f"Press **Run many** to run {count.value} projects with the settings "
                        f"of the run on screen (seeds {s.seed}–{s.seed + count.value - 1}).")
        return
    marked = "" if done or mode.value != POINT_MODE else \
        "  \nThe run on screen is marked once it ends."
    solara.Markdown(views.many_runs_markdown(current[3]) + marked)
    solara.Image(png, width="100%")


@solara.component
def Dashboard() -> None:
    """The whole page: controls on the left, the run and its views on the right."""
    scenario = solara.use_reactive(DEFAULT.scenario)
    seed = solara.use_reactive(DEFAULT.seed)
    months = solara.use_reactive(DEFAULT.months)
    values = solara.use_reactive(views.scenario_sliders(DEFAULT.scenario))
    first = solara.use_memo(lambda: views.ProjectRun(DEFAULT), [])
    run = solara.use_reactive(first)
    tick = solara.use_reactive(0)  # bumped after every month, to redraw
    playing = solara.use_reactive(False)
    speed = solara.use_reactive("normal")  # the play speed (SPEEDS)
    lock = solara.use_memo(threading.Lock, [])

    wanted = views.Settings.make(scenario.value, seed.value, months.value,
                                 views.overrides_for(scenario.value, values.value))
    pending = wanted != run.value.settings
    tick.value  # noqa: B018 - read so that each month's bump redraws the page

    def apply() -> None:
        playing.set(False)
        with lock:
            run.set(views.ProjectRun(wanted))
        tick.set(tick.value + 1)

    def step() -> None:
        with lock:
            run.value.step()
        tick.set(tick.value + 1)

    def to_end() -> None:
        playing.set(False)
        with lock:
            run.value.run_to_end()
        tick.set(tick.value + 1)

    def play_loop() -> None:
        # The chosen pace (SPEEDS: seconds a month) whatever the machine: when drawing a
        # frame takes longer, a frame advances several months (like Mesa's render
        # interval, but chosen automatically).
        last = time.monotonic()
        while playing.value:
            time.sleep(PLAY_INTERVAL)
            now = time.monotonic()
            months = int((now - last) // SPEEDS[speed.value])
            if months < 1:
                continue
            last = now
            with lock:
                moved = [run.value.step() for _ in range(months)]
            if not any(moved):
                playing.set(False)
                break
            tick.set(tick.value + 1)

    solara.lab.use_task(play_loop, dependencies=[playing.value, run.value],
                        prefer_threaded=True)

    current = run.value
    key = [id(current), current.month]
    project_png = solara.use_memo(lambda: views.png_bytes(views.project_figure(current)), key)
    team_png = solara.use_memo(lambda: views.png_bytes(views.team_figure(current)), key)

    solara.Title("icsim: one integration project")
    with solara.Columns([1, 3], style={"width": "100%"}):
        with solara.Column():
            solara.Markdown("## icsim dashboard")
            Controls(scenario, seed, months, values, pending, apply)
        with solara.Column(style={"min-width": "0"}):
            with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
                solara.Button("Step", on_click=step, disabled=current.done or playing.value,
                              icon_name="mdi-step-forward")
                solara.Button("Pause" if playing.value else "Play",
                              on_click=lambda: playing.set(not playing.value),
                              disabled=current.done and not playing.value,
                              icon_name="mdi-pause" if playing.value else "mdi-play")
                solara.Button("Run to end", on_click=to_end, disabled=current.done,
                              icon_name="mdi-skip-forward")
                solara.ToggleButtonsSingle(value=speed, values=list(SPEEDS))
                changed = ", ".join(f"{PARAMETERS[k].display} = "
                                    f"{views.format_value(PARAMETERS[k], v)}"
                                    for k, v in current.settings.overrides)
                solara.Text(f"scenario {scenario_label(current.settings.scenario)}, seed "
                            f"{current.settings.seed}"
                            + (f"; changed: {changed}" if changed else ""))
            solara.Markdown(current.status_markdown())
            solara.Image(project_png, width="100%")
            solara.Image(team_png, width="100%")
            ManyRuns(current, current.done)


@solara.component
def Page() -> None:
    """Entry point for ``icsim dashboard`` and for Jupyter. (Started by hand, ``solara run
    sim.ui.app:page`` asks the package index for a newer Solara unless given
    ``--no-check-version``; ``icsim dashboard`` passes it.)"""
    Dashboard()


page = Page()

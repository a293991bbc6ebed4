"""The interactive dashboard: a Mesa SolaraViz app with a scenario picker, sliders for the
principal levers (read from the parameter registry) and live plots.

Serve it with ``icsim dashboard [--port N]`` (127.0.0.1), or show ``page`` in a Jupyter
cell (see notebooks/04_dashboard.ipynb). Move a slider or pick a scenario, press *Reset*,
then *Step* or *▶* to watch the project month by month.

A slider left at the registry default leaves the scenario's own value in force (so that
picking ``enabling_national`` is not undone by the regulation slider's default); moved
away from the default, a slider overrides the scenario.
"""

from __future__ import annotations

from typing import Any

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from sim import plots
from sim.model import IntegrationModel, timeseries_frame
from sim.parameters import PARAMETERS, defaults, principal
from sim.scenarios import NATIONAL_APPROACHES, SCENARIOS

#: Scenario choices: every named scenario, and each national approach with the toolkit.
SCENARIO_CHOICES = list(SCENARIOS) + [f"{n}+toolkit" for n in NATIONAL_APPROACHES]


class DashboardModel(IntegrationModel):
    """``IntegrationModel`` whose slider values at their default defer to the scenario."""

    def __init__(self, scenario_name: str = "baseline", seed: int = 0, months: int = 60,
                 scenario: Any = None, **sliders: Any) -> None:
        base = defaults()
        overrides = {k: v for k, v in sliders.items() if v != base.get(k)}
        super().__init__(months=months, collect=True, rng=seed, scenario_name=scenario_name,
                         **overrides)


def _slider(name: str) -> dict[str, Any]:
    p = PARAMETERS[name]
    if p.kind == "int":
        return {"type": "SliderInt", "value": p.default, "min": int(p.low), "max": int(p.high),
                "step": 1, "label": f"{name} ({p.unit})"}
    step = (p.high - p.low) / 100
    return {"type": "SliderFloat", "value": p.default, "min": p.low, "max": p.high,
            "step": step, "label": f"{name} ({p.unit})"}


def model_params() -> dict[str, Any]:
    """The dashboard's inputs: scenario, seed, horizon and the principal levers."""
    params: dict[str, Any] = {
        "scenario_name": {"type": "Select", "value": "baseline", "values": SCENARIO_CHOICES,
                          "label": "scenario"},
        "seed": {"type": "SliderInt", "value": 0, "min": 0, "max": 999, "step": 1,
                 "label": "seed"},
        "months": {"type": "SliderInt", "value": 60, "min": 12, "max": 120, "step": 6,
                   "label": "horizon (months)"},
    }
    params.update({p.name: _slider(p.name) for p in principal()})
    return params


@solara.component
def ProjectView(model: IntegrationModel):
    """The gates reached so far, this month's events, and the plots (sim.plots)."""
    update_counter.get()

    def when(month: int | None) -> str:
        return "-" if month is None else f"month {month}"

    with solara.Column(style={"width": "100%"}):
        solara.Markdown(
            f"**Month {model.steps} of {model.months}** — outcome so far: "
            f"**{model.outcome}**  \n"
            f"business case {when(model.business_case_month)} · "
            f"pilot {when(model.pilot_month)} · integrated {when(model.integrated_month)} · "
            f"collapse {when(model.collapse_month)}  \n"
            f"small wins {model.small_wins} · turnover {model.turnover_events} · "
            f"host changes {model.host_changes} · "
            f"funding {model.system.funding_received:.2f} × pilot cost  \n"
            f"this month: {model.events or 'nothing notable'}"
        )
        frame = timeseries_frame(model)
        title = f"{model.scenario_name}, month {model.steps}: {model.outcome}"
        solara.FigureMatplotlib(plots.timeseries_figure(frame, title=title), format="png")


@solara.component
def Page():
    """One model per browser session, shown with Mesa's SolaraViz."""
    model = solara.use_memo(DashboardModel, [])
    return SolaraViz(model, components=[(ProjectView, 0)], model_params=model_params(),
                     name="icsim: one integration project", play_interval=150)


page = Page()

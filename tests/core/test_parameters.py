"""The one registry: defaults inside bounds, sources given, validation messages."""

import pytest

from sim.core.registry import PARAMETERS, defaults, parse_assignment, principal, validate


def test_every_parameter_is_documented_and_its_default_valid():
    for p in PARAMETERS.values():
        assert p.meaning and p.source and p.unit
        assert p.level in ("system", "organisation", "team", "national", "scenario")
        assert p.coerce(p.default) == p.default
    assert len(principal()) >= 8
    assert {p.level for p in principal()} == {"system", "organisation", "team"}


def test_validation_names_culprit_and_bounds():
    with pytest.raises(ValueError, match=r"'pm_support' must be a number in \[0, 1\]"):
        validate({"pm_support": 1.5})
    with pytest.raises(ValueError, match="unknown parameter 'pmsupport'"):
        validate({"pmsupport": 0.5})
    with pytest.raises(ValueError, match="'learn_small_tasks' must be true or false"):
        validate({"learn_small_tasks": "perhaps"})
    with pytest.raises(ValueError, match="'team_size' must be an integer"):
        validate({"team_size": True})
    assert parse_assignment("team_size=12") == ("team_size", 12)
    assert parse_assignment("small_tasks=false") == ("small_tasks", False)
    assert validate(defaults()) == defaults()


def test_odd_document_embeds_the_registry():
    from pathlib import Path

    odd = (Path(__file__).parents[2] / "docs" / "ODD.md").read_text()
    for name in PARAMETERS:
        assert f"`{name}`" in odd, name


def test_odd_tables_are_generated_from_the_registry():
    from pathlib import Path

    from sim.core.registry import render_doc_tables

    odd = (Path(__file__).parents[2] / "docs" / "ODD.md").read_text()
    assert render_doc_tables(odd) == odd, "docs/ODD.md is stale: run 'make docs'"


def test_every_entry_has_a_label_group_and_a_plausible_range_inside_its_bounds():
    from sim.core.registry import GROUPS, KINDS, PARAMETERS

    assert sum(p.group == "assumption" for p in PARAMETERS.values()) >= 55
    for p in PARAMETERS.values():
        assert p.group in GROUPS and p.kind in KINDS and p.label, p.name
        assert p.coerce(p.default) == p.default
        if p.kind == "choice":
            assert p.default in p.choices and len(p.choices) >= 2
        elif p.kind != "bool":
            low, high = p.plausible_range
            assert p.low <= low <= p.default <= high <= p.high, p.name
            assert "(" in p.axis_label or not p.unit


def test_model_files_hold_no_number_that_shapes_behaviour():
    """Design check: the equations (sim/engine/kernels.py) and the Mesa model hold no float
    literal but the definitional ones -- 0 and 1, 0.5 (centring a uniform draw, the mean
    of two), 3 (the mean of the three national tools), 12 (months a year) and the float
    tolerance; integers there index arrays. Every
    number a named scenario sets carries its source and, unless it is definitional, a
    plausible range (sim/core/scenarios.py)."""
    import ast
    from pathlib import Path

    from sim.core.scenarios import SCENARIOS

    definitional = {0.0, 1.0, 0.5, 3.0, 12.0, 1e-12}  # 3: the mean of the three tools
    root = Path(__file__).parents[2] / "sim"
    for name in ("engine/kernels.py", "engine/layout.py", "mesa/model.py", "mesa/agents.py"):
        for node in ast.walk(ast.parse((root / name).read_text())):
            if (isinstance(node, ast.Constant) and isinstance(node.value, float)
                    and node.value not in definitional):
                raise AssertionError(f"{name}:{node.lineno}: the number {node.value} belongs "
                                     "in the registry")
    for scenario in SCENARIOS.values():
        for setting in scenario.settings:
            assert setting.source.strip(), (scenario.name, setting.lever)
            param = PARAMETERS[setting.lever]
            if setting.plausible is not None:
                low, high = setting.plausible
                assert param.low <= low <= high <= param.high, (scenario.name, setting.lever)


def test_the_scan_for_numbers_can_fail(tmp_path):
    """The scan above finds a number planted in a kernel-like file."""
    import ast

    planted = "def f(p):\n    return p.rate * 0.37\n"
    found = [n.value for n in ast.walk(ast.parse(planted))
             if isinstance(n, ast.Constant) and isinstance(n.value, float)]
    assert found == [0.37]


def test_no_lever_cites_an_assumption_and_every_number_has_a_plausible_range():
    """Levers are what a policy maker or a project can set, their defaults sourced;
    everything uncertain in the mechanisms is an assumption (issue 19, item 7)."""
    for p in PARAMETERS.values():
        if p.group == "lever":
            words = p.source.lower()
            assert "assumption" not in words and "calibrat" not in words, p.name
        if p.kind in ("float", "int"):
            assert p.plausible is not None, p.name


def test_every_named_scenario_has_a_strength():
    from sim.core.registry import SCENARIO_NAMES
    from sim.core.scenarios import SCENARIOS, parameters_for

    assert set(SCENARIO_NAMES) == set(SCENARIOS) - {"baseline"}
    half = parameters_for("enabling_national", {"enabling_national_strength": 0.5})
    case = PARAMETERS["regulatory_alignment"].default
    target = SCENARIOS["enabling_national"].values["regulatory_alignment"]
    assert half["regulatory_alignment"] == pytest.approx(case + 0.5 * (target - case))
    assert parameters_for("toolkit", {"toolkit_strength": 0.0})["small_tasks"] is False


def test_schedule_changes_national_levers_mid_run_and_refuses_others():
    import pytest

    import sim
    from sim.core.errors import UsageError

    base = sim.run_project("baseline", seed=3, months=60)
    same = sim.run_project("baseline", seed=3, months=60, schedule=[(61, {"incentives": 1.0})])
    assert same == {**base}  # a change after the horizon changes nothing
    model = sim.simulate("baseline", seed=3, months=30,
                         schedule=[(12, {"payment_integration": 0.9, "incentives": 0.8})])
    frame = sim.timeseries_frame(model)
    tools = frame["dac_system_alignment"]
    assert tools.iloc[11] == pytest.approx((0.15 + 0.10 + 0.15) / 3)
    assert tools.iloc[12] == pytest.approx((0.15 + 0.9 + 0.8) / 3)
    with pytest.raises(UsageError, match="turnover_rate"):
        sim.run_project(schedule=[(12, {"turnover_rate": 0.2})])
    with pytest.raises(UsageError, match="month"):
        sim.run_project(schedule=[(0, {"incentives": 0.2})])
    with pytest.raises(UsageError, match="incentives"):
        sim.run_project(schedule=[(5, {"incentives": 2.0})])

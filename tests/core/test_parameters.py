"""The one registry: defaults inside bounds, sources given, validation messages."""

import pytest

from sim.core.registry import PARAMETERS, defaults, parse_assignment, principal, validate


def test_every_parameter_is_documented_and_its_default_valid():
    for p in PARAMETERS.values():
        assert p.meaning and p.source and p.unit
        assert p.level in ("system", "organisation", "team", "national")
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


def test_model_files_hold_no_numeric_constant_that_shapes_behaviour():
    """Design check: no module-level UPPER_CASE number in the model files (the registry
    holds them); definitional constants are whitelisted by name."""
    import ast
    from pathlib import Path

    allowed = {"PATIENTS", "LOCALITY_LEAD_SLOT"}
    root = Path(__file__).parents[2] / "sim"
    for name in ("model.py", "agents.py", "measures.py"):
        tree = ast.parse((root / name).read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                for t in targets:
                    if (isinstance(t, ast.Name) and t.id.isupper() and t.id not in allowed
                            and isinstance(value, ast.Constant)
                            and isinstance(value.value, int | float)):
                        raise AssertionError(f"{name}: {t.id} = {value.value}")


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

"""The one registry: defaults inside bounds, sources given, validation messages."""

import pytest

from sim.parameters import PARAMETERS, defaults, parse_assignment, principal, validate


def test_every_parameter_is_documented_and_its_default_valid():
    for p in PARAMETERS.values():
        assert p.meaning and p.source and p.unit and p.level in ("system", "organisation", "team")
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

    odd = (Path(__file__).parents[1] / "docs" / "ODD.md").read_text()
    for name in PARAMETERS:
        assert f"`{name}`" in odd, name

"""The command-line reference: docs/cli.md is the parser's, every --help has one style,
and the command lines the documents show name only what the parser has."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sim.ui import reference
from sim.ui.options import shown_default

ROOT = Path(__file__).resolve().parents[2]
#: The documents whose icsim command lines are checked against the parser.
DOCUMENTS = ("README.md", "docs/ODD.md", "docs/DECISIONS.md", "experiments/README.md",
             "scenarios/README.md", "results/README.md", "benchmarks/README.md")


def test_docs_cli_md_is_the_parsers_reference():
    """A changed option without 'make docs' fails here."""
    assert (ROOT / reference.DOC).read_text(encoding="utf-8") == reference.render(), \
        "docs/cli.md is out of date: run 'make docs'"


def test_the_reference_names_every_command_and_option():
    text = reference.render()
    for name, parser in reference.subcommands().items():
        assert f"## icsim {name}\n" in text
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in text or f", {option}" in text, (name, option)


def _options():
    for name, parser in reference.subcommands().items():
        for action in parser._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                yield name, parser, action


@pytest.mark.parametrize("name, parser, action", list(_options()),
                         ids=[f"{n}{a.option_strings[0]}" for n, _, a in _options()])
def test_every_option_has_help_in_one_style(name, parser, action):
    """Help for every option; a default value shown once, as a final "(default: X)"
    taken from the parser; a default of None explained in words or not at all."""
    text = reference.option_help(parser, action)
    assert text, f"icsim {name} {action.option_strings[0]} has no help"
    assert text.lower().count("default") <= 1, text
    assert "(default: None)" not in text and "(default: False)" not in text, text
    meaning, default = reference.split_default(text)
    assert "default" not in meaning.lower(), text  # only as the final "(default: ...)"
    if shown_default(action) is not None:
        assert default == shown_default(action), text


def test_help_prints_no_default_twice(capsys):
    """What ``icsim COMMAND --help`` prints: one "(default: ...)" per option that has one
    (the reference's), none of them "None"."""
    from sim.ui.cli import main

    for name, parser in reference.subcommands().items():
        with pytest.raises(SystemExit):
            main([name, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        expected = sum("(default:" in reference.option_help(parser, action)
                       for action in parser._actions)
        assert out.count("(default:") == expected, name
        assert "(default: None)" not in out, name


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_documents_command_lines_name_only_what_the_parser_has(document):
    text = (ROOT / document).read_text(encoding="utf-8")
    assert reference.document_problems(text) == []


def test_the_readme_shows_command_lines_and_links_the_reference():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = reference.command_lines(text)
    shown = {line.split()[1] for line in lines}
    assert {"run", "compare", "national", "sweep", "analyze", "calibrate"} <= shown
    assert "(docs/cli.md)" in text


SAMPLE = """
Run it:

```bash
icsim run --seed 1 --months 48   # one project
.venv/bin/icsim compare baseline toolkit --replicates 40 --turbo
```

`icsim national [--sites N] [--engine fast|quantum]` and `icsim frobnicate --x`; also
`icsim COMMAND --help` and `icsim.models`, and
`icsim analyze DIR [--resamples N] [--format png,svg,pdf] [--prim-outcome OUTCOME
[--prim-threshold T] [--prim-above]] [--quiet]`.
"""


def test_the_checker_finds_a_made_up_option_and_what_else_is_wrong():
    lines = reference.command_lines(SAMPLE)
    assert lines == [
        "icsim run --seed 1 --months 48",
        "icsim compare baseline toolkit --replicates 40 --turbo",
        "icsim national [--sites N] [--engine fast|quantum]",
        "icsim frobnicate --x",
        "icsim COMMAND --help",
        "icsim analyze DIR [--resamples N] [--format png,svg,pdf] [--prim-outcome OUTCOME "
        "[--prim-threshold T] [--prim-above]] [--quiet]",
    ]
    problems = reference.document_problems(SAMPLE)
    assert any("icsim compare has no option --turbo" in p for p in problems)
    assert any("no command 'frobnicate'" in p for p in problems)
    assert any("--engine takes fast|mesa, not fast|quantum" in p for p in problems)
    assert any("the synopsis leaves out --approach" in p for p in problems)  # national's
    assert not any("'icsim run" in p or "'icsim analyze" in p or "COMMAND" in p
                   for p in problems)
    # the good lines alone pass
    fixed = SAMPLE.replace(" --turbo", "").split("`icsim national")[0]
    assert reference.document_problems(fixed) == []

"""The command-line reference, ``docs/cli.md``, generated from the parser ``icsim`` runs.

:func:`render` builds the parser of :mod:`sim.ui.cli` (nothing runs) and writes every
subcommand's usage line, description and options -- each with its help and default, in
the words ``icsim <command> --help`` prints -- as Markdown. ``make docs`` writes it to
``docs/cli.md``, and the test suite fails when the file and :func:`render` differ, so the
reference cannot drift from ``--help``.

Usage lines are argparse's own, wrapped at :data:`WIDTH` columns whatever the terminal.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sim.ui.cli import build_parser
from sim.ui.options import HelpFormatter

#: The reference's path in the repository.
DOC = Path("docs/cli.md")
#: Columns the usage lines are wrapped at.
WIDTH = 88
_DEFAULT = re.compile(r"\s*\(default: (?P<value>[^()]*(?:\([^()]*\)[^()]*)*)\)\s*$")


def subcommands(parser: argparse.ArgumentParser | None = None
                ) -> dict[str, argparse.ArgumentParser]:
    """Every ``icsim`` subcommand's parser, by name, in the order ``icsim --help`` lists
    them."""
    parser = parser or build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    return HelpFormatter(parser.prog, width=WIDTH)


def usage(parser: argparse.ArgumentParser) -> str:
    """The parser's usage line(s), as ``--help`` prints them at :data:`WIDTH` columns."""
    formatter = _formatter(parser)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def option_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """An option's help as ``--help`` prints it (its default included), on one line."""
    formatter = _formatter(parser)
    return " ".join(formatter._expand_help(action).split()) if action.help else ""


def split_default(text: str) -> tuple[str, str]:
    """``"sites in the country (default: 200)"`` -> ``("sites in the country", "200")``."""
    match = _DEFAULT.search(text)
    if not match:
        return text, ""
    return text[:match.start()], match["value"]


def _invocation(action: argparse.Action) -> str:
    """``--seed SEED``, ``--quiet``, ``SCENARIO [SCENARIO ...]``."""
    formatter = HelpFormatter("icsim", width=WIDTH)
    if not action.option_strings:
        return formatter._format_args(action, formatter._get_default_metavar_for_positional(
            action))
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = formatter._format_args(action, formatter._get_default_metavar_for_optional(
        action))
    return ", ".join(f"{name} {metavar}" for name in action.option_strings)


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")
            .replace("<", "&lt;").replace(">", "&gt;"))


def _code(text: str) -> str:
    """Inline code safe in a Markdown table cell."""
    return f"`{text.replace('|', '&#124;')}`" if text else ""


def render() -> str:
    """``docs/cli.md``: every subcommand's usage, description and options."""
    parser = build_parser()
    commands = subcommands(parser)
    helps = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
    lines = [
        "# The command line: `icsim`",
        "",
        "<!-- Generated from the argparse parser (sim/ui/reference.py) by `make docs`; do "
        "not edit. tests/ui/test_cli_reference.py fails when it is out of date. -->",
        "",
        f"{parser.description}",
        "",
        "`icsim` is installed into `.venv/bin/` by `make setup`; `python -m sim` does the "
        "same. Every command prints this help with `icsim COMMAND --help`. Bad input stops "
        "with a one-line message naming the culprit and exit status 2, before anything is "
        "written.",
        "",
        "| command | what it does |",
        "|---|---|",
        *[f"| [`{name}`](#icsim-{name}) | {_cell(helps.get(name, ''))} |"
          for name in commands],
    ]
    for name, sub in commands.items():
        lines += ["", f"## icsim {name}", "", "```", usage(sub), "```", ""]
        lines.append(" ".join((sub.description or helps.get(name, "")).split()))
        actions = [a for a in sub._actions if not isinstance(a, argparse._HelpAction)]
        if not actions:
            lines += ["", "No options besides `--help`."]
            continue
        groups = {id(a): g for g in sub._mutually_exclusive_groups for a in g._group_actions}
        lines += ["", "| argument | meaning | default |", "|---|---|---|"]
        for action in actions:
            meaning, default = split_default(option_help(sub, action))
            if action.required and action.option_strings:
                meaning += "; required"
            group = groups.get(id(action))
            if group is not None:
                others = [o.option_strings[0] for o in group._group_actions if o is not action]
                meaning += f"; not with {', '.join(others)}"
            lines.append(f"| {_code(_invocation(action))} | {_cell(meaning)} | "
                         f"{_code(default)} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ documents' commands
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_SPAN = re.compile(r"`([^`]+)`")
_OPTION = re.compile(r"(?<![\w-])(--[A-Za-z][\w-]*)")
_CHOICES = re.compile(r"(?<![\w-])(--[A-Za-z][\w-]*)[ =]([\w.-]+(?:\|[\w.-]+)+)")


def command_lines(markdown: str) -> list[str]:
    """Every ``icsim ...`` command a Markdown document shows: the lines of its code blocks
    that run ``icsim`` (or ``.venv/bin/icsim``; a trailing ``# comment`` dropped) and its
    inline code spans that start with ``icsim `` (a usage line may wrap over lines)."""
    found = []
    for block in _FENCE.finditer(markdown):
        for line in block.group(0).splitlines()[1:-1]:
            line = line.strip().removeprefix("$ ").removeprefix(".venv/bin/")
            if line.startswith("icsim "):
                found.append(" ".join(line.split("#", 1)[0].split()))
    prose = _FENCE.sub("", markdown)
    for span in _SPAN.finditer(prose):
        text = " ".join(span.group(1).split())
        if text.startswith("icsim "):
            found.append(text)
    return found


def usage_problems(line: str, commands: dict[str, argparse.ArgumentParser] | None = None
                   ) -> list[str]:
    """What in one ``icsim COMMAND ...`` line the parser does not have: an unknown command,
    an option the command does not take, or ``--opt a|b`` listing other choices than the
    option's. A synopsis (a line with ``[--option ...]``) must also name every option the
    command takes, so that a new option reaches the documents."""
    commands = commands if commands is not None else subcommands()
    words = line.split()
    name = words[1] if len(words) > 1 else ""
    if not name or name.isupper() or name.startswith("-"):  # icsim COMMAND --help
        return []
    if name not in commands:
        return [f"'{line}': no command '{name}' (commands: {', '.join(commands)})"]
    parser = commands[name]
    known = parser._option_string_actions
    problems = [f"'{line}': icsim {name} has no option {option}"
                for option in dict.fromkeys(_OPTION.findall(line)) if option not in known]
    for option, listed in _CHOICES.findall(line):
        action = known.get(option)
        if action is not None and action.choices is not None \
                and set(listed.split("|")) != set(map(str, action.choices)):
            problems.append(f"'{line}': {option} takes {'|'.join(map(str, action.choices))}"
                            f", not {listed}")
    if "[--" in line:
        missing = [a.option_strings[-1] for a in parser._actions
                   if a.option_strings and not isinstance(a, argparse._HelpAction)
                   and not set(a.option_strings) & set(_OPTION.findall(line))]
        problems += [f"'{line}': the synopsis leaves out {option}" for option in missing]
    return problems


def document_problems(markdown: str) -> list[str]:
    """:func:`usage_problems` of every ``icsim`` command a Markdown document shows."""
    commands = subcommands()
    return [problem for line in command_lines(markdown)
            for problem in usage_problems(line, commands)]


def write(path: Path = DOC) -> Path:
    """Write :func:`render` to ``path`` (``make docs``)."""
    path.write_text(render(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")

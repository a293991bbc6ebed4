"""The one error type for bad user input.

The command line turns it into a one-line message and exit status 2, and writes nothing.
It subclasses ``ValueError`` so that Python callers (``run_project``, experiment files)
see the same message as a plain ``ValueError``.
"""


class UsageError(ValueError):
    """Bad input: the message names the culprit and what is allowed."""

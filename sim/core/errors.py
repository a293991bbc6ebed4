"""The one error type for bad user input.

The command line turns it into a one-line message and exit status 2, and writes nothing.
It subclasses ``ValueError`` so that Python callers (``run_project``, experiment files)
see the same message as a plain ``ValueError``.
"""


class UsageError(ValueError):
    """Bad input: the message names the culprit and what is allowed."""


def one_line(text: object) -> str:
    """``text`` on one line: line breaks and other control characters a user's input put
    in a message are shown escaped (``\\n``), so the message stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class JobStopped(RuntimeError):
    """A job stopped by a cause outside its input -- a lost Dask scheduler, say. The message
    names the cause; the command line prints it in one line with the next step (usually
    ``--resume``) and exits with status 1. Finished work is kept."""


class SchedulerLost(JobStopped):
    """The Dask scheduler went away in the middle of a job."""

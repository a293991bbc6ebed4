"""Which plug-in models an experiment file may run: plug-in code is opt-in.

An experiment file names its model; a ``model = "module:function"`` imports and runs that
Python code with the user's permissions. So a plug-in runs only when one of these holds:

1. the model is the project's own (``model = "icsim"``), or a function of the installed
   ``sim`` package marked ``@sim.register_model`` (``sim.studies.national:site_run``, the examples
   in ``sim.experiment.examples``) -- importing the project's own modules runs nothing new;
2. an installed package declares it in the entry-point group ``icsim.models``, either the
   function itself (``mymodel = "mypkg.models:run"``) or a whole module
   (``mypkg = "mypkg.models"``), in which case its functions marked
   ``@sim.register_model`` are models. The entry points are read from the installed
   packages' metadata (``importlib.metadata``), without importing anything: installing a
   package is the user's deliberate act, an experiment file is not;
3. the user says so explicitly: ``icsim sweep FILE --allow-plugin`` (or
   ``allow_plugin=True`` from Python).

Otherwise the experiment file is refused in one line, *before* the module is imported (an
import alone runs the module's top-level code). The decorator alone cannot open the door,
as it can only be seen after the import; it marks which functions of an already trusted
module (the project's, or one an entry point names) are models.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from sim.core.errors import UsageError
from sim.experiment.models import PROJECT_MODEL

#: The entry-point group in which installed packages declare icsim models.
ENTRY_POINT_GROUP = "icsim.models"
#: The command-line flag that allows any plug-in model.
ALLOW_FLAG = "--allow-plugin"
#: The project's own package: its modules may be imported to look for registered models.
PROJECT_PACKAGE = "sim"
_MARK = "__icsim_model__"


def register_model[F: Callable[..., Any]](func: F) -> F:
    """Mark ``func(params: dict, seed: int) -> dict`` as an icsim model.

    The mark makes the function runnable from an experiment file without
    ``--allow-plugin`` when its module is the project's own or is declared by an installed
    package's ``icsim.models`` entry point (see this module's docstring)::

        import sim

        @sim.register_model
        def my_model(params, seed):
            return {"y": params["x1"]}
    """
    setattr(func, _MARK, True)
    return func


def is_registered(func: Any) -> bool:
    """Whether ``func`` carries the :func:`register_model` mark."""
    return getattr(func, _MARK, False) is True


def _declared() -> tuple[set[str], set[str]]:
    """Functions (``module:function``) and modules declared in ``icsim.models``."""
    functions: set[str] = set()
    modules: set[str] = set()
    for point in entry_points(group=ENTRY_POINT_GROUP):
        value = point.value.replace(" ", "")
        if ":" in value:
            functions.add(value)
        else:
            modules.add(value)
    return functions, modules


def permission(model: str, allow_plugin: bool = False) -> str:
    """How ``model`` may run, decided without importing it; raise ``UsageError`` if it
    may not.

    Returns ``"project"`` (the project's model), ``"flag"`` (allowed explicitly),
    ``"entry point"`` (a function an installed package declares), or ``"registered"``
    (a module that may be imported, whose function must then carry the
    :func:`register_model` mark: see :func:`check_registered`).
    """
    if model == PROJECT_MODEL:
        return "project"
    if allow_plugin:
        return "flag"
    module = model.partition(":")[0]
    functions, modules = _declared()
    if model in functions:
        return "entry point"
    if module == PROJECT_PACKAGE or module.startswith(PROJECT_PACKAGE + ".") \
            or module in modules:
        return "registered"
    raise UsageError(refusal(model, "it is not registered as an icsim model"))


def refusal(model: str, why: str) -> str:
    """The one-line refusal of a plug-in model."""
    return (f"model '{model}' is plug-in code and would run with your permissions; {why}: "
            f"pass {ALLOW_FLAG} to run it (allow_plugin=True from Python), or declare it in "
            f"the entry-point group '{ENTRY_POINT_GROUP}' of an installed package")


def check_registered(model: str, func: Any, how: str) -> None:
    """After the import that ``how`` (from :func:`permission`) allowed: a function of a
    trusted module must carry the :func:`register_model` mark."""
    if how == "registered" and not is_registered(func):
        raise UsageError(refusal(model, "its function is not marked @sim.register_model"))

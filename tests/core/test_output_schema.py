"""The run summary's derived outcomes: many runs at once as one run at a time."""

import itertools

import numpy as np

from sim.core.outputs import outcome_name, outcome_names


def test_outcome_names_of_many_runs_are_each_runs_outcome_name():
    months = (-1, 0, 7)  # -1: not reached (the fast engine's NOT_YET)
    cases = np.array(list(itertools.product(months, repeat=3)))
    names = outcome_names(cases[:, 0], cases[:, 1], cases[:, 2])
    assert list(names) == [outcome_name(*(int(m) for m in case)) for case in cases]
    assert set(names) == {"integrated", "pilot", "collapsed", "stalled"}

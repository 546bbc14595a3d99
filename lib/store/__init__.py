"""The run store (:mod:`.runs`: runs by key, atomic, locked) and the grid that fills it (:mod:`.grid`)."""

from .grid import make_executor, run_grid
from .runs import RunResult, RunSpec, RunStore

__all__ = ["RunResult", "RunSpec", "RunStore", "make_executor", "run_grid"]

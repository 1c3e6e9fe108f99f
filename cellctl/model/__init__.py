"""Plain data for cells and programs, and their YAML loaders. Imports no simulator."""

from cellctl.model.cell import Cell, Feature, Fixture, Part, Robot, Tool, Zone, load_cell
from cellctl.model.program import MoveTarget, Program, Task, load_program

__all__ = ["Cell", "Feature", "Fixture", "MoveTarget", "Part", "Program", "Robot", "Task", "Tool", "Zone",
           "load_cell", "load_program"]

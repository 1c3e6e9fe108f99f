"""The controller's book of where parts are: what rests on a part goes where the part is placed, and a part taken
off its carrier no longer follows it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from spatialmath import SE3

from cellctl.control.context import PartBook
from cellctl.model import load_program
from cellctl.twin.world import World
from conftest import ROOT


def test_what_rests_on_a_placed_part_moves_with_it_and_stops_once_taken_off():
    book = PartBook({"pallet": SE3(0.6, 0, 0.5), "bracket": SE3(0.66, 0, 0.51) * SE3.Rz(0.3), "screw": SE3(0.66, 0, 0.53)},
                    on={"bracket": "pallet", "screw": "bracket"})
    book.placed("pallet", SE3(0.45, -0.13, 0.5) * SE3.Rz(np.pi / 2), None)
    assert np.allclose(book.poses["bracket"].t, [0.45, -0.07, 0.51]) and np.allclose(book.poses["screw"].t, [0.45, -0.07, 0.53])
    assert np.isclose(book.poses["bracket"].rpy()[2], np.pi / 2 + 0.3)
    book.carried["bracket"] = "arm"
    book.taken("bracket")
    assert book.away_from("other") == {"bracket", "screw"}  # in a hand, and riding on what is in a hand
    book.placed("bracket", SE3(0.65, -0.3, 0.53), None)
    book.carried.clear()
    book.placed("pallet", SE3(0.6, 0, 0.5), None)
    assert np.allclose(book.poses["bracket"].t, [0.65, -0.3, 0.53])  # off the pallet: it stays in the nest


def test_the_cell_says_which_part_lies_on_which():
    program = load_program(Path(ROOT / "tests" / "good" / "carry_loaded_pallet.yaml"))
    with World(program.cell) as world:
        # the bracket lies on the pallet; its neighbour on the table only touches its side (edge on edge)
        assert world.trace.resting == {"bracket": "pallet"}

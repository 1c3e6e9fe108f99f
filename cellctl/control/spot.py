"""Spot: for each spot in turn, come in beyond the sheet's edge, slide the open gun onto the sheet until the fixed
electrode stands just off the spot, close (the fixed electrode onto the sheet, the moving one clamping it with the
programmed force), dwell with the weld current on, open, and slide back out over the edge."""

from __future__ import annotations

from enum import Enum, auto

import numpy as np
from spatialmath import SE3

from cellctl.control.machine import Failure, TaskMachine

TIP_GAP = 0.001  # m the fixed electrode stands off the sheet while the gun slides on and off (no rubbing)
ON_THE_SPOT = 5e-5  # m: a TCP this close to its target needs no move


class SpotStep(Enum):
    IDLE = auto()
    APPROACH = auto()
    POSITION = auto()
    CLOSE = auto()
    DWELL = auto()
    OPEN = auto()
    RETREAT = auto()
    DONE = auto()
    FAILED = auto()
    INTERRUPTED = auto()


class SpotMachine(TaskMachine):
    """Spot frames have z along the electrode approach (into the sheet) and x towards the edge the gun reaches
    around; the gun comes in and leaves along that x, `approach` m beyond the spot."""

    STEPS = SpotStep
    KIND = "spot"
    STEP_CHECK = {SpotStep.CLOSE: "weld", SpotStep.DWELL: "weld", SpotStep.OPEN: "weld"}
    PROCESS_STEPS = (SpotStep.CLOSE, SpotStep.DWELL)

    def __init__(self, task_id, ctx, on_event, spots: list[tuple[str, SE3]], force: float, dwell: float,
                 approach: float, lin_speed: float, speed_scale: float = 1.0):
        self.spots, self.force, self.dwell = spots, force, dwell
        self.approach, self.lin_speed, self.speed_scale = approach, lin_speed, speed_scale
        self.index = 0  # the spot being welded; those before it are done
        super().__init__(task_id, ctx, on_event)

    @classmethod
    def for_task(cls, task, ctx, on_event, cell) -> "SpotMachine":
        spots = []
        for owner, name in task.spots:
            T_owner = cell.fixtures[owner].T_world_fixture if owner in cell.fixtures else ctx.parts.poses[owner]
            spots.append((f"{owner}.{name}", T_owner * {**cell.fixtures, **cell.parts}[owner].features[name].T_owner_feature))
        return cls(task.id, ctx, on_event, spots, task.spot_force, task.dwell, task.approach, task.lin_speed, task.speed_scale)

    def _add_transitions(self, machine) -> None:
        machine.add_transition("next_spot", SpotStep.RETREAT, SpotStep.APPROACH)

    @property
    def spot(self) -> tuple[str, SE3]:
        return self.spots[self.index]

    def _conclude(self, problem: Failure | None) -> None:
        if problem is None and self.state is SpotStep.RETREAT and self.index + 1 < len(self.spots):
            self._release_zones()
            self.index += 1
            self.next_spot()
            return
        if problem is not None and not problem.message.startswith("spot "):
            problem = Failure(problem.check, f"spot {self.spot[0]}: {problem.message}")
        super()._conclude(problem)

    # the poses of one spot: on it, standing off it, and out beyond the sheet's edge
    def _on(self) -> SE3:
        return self.spot[1]

    def _off(self) -> SE3:
        return self.spot[1] * SE3.Tz(-TIP_GAP)

    def _out(self) -> SE3:
        return self.spot[1] * SE3.Tx(self.approach) * SE3.Tz(-TIP_GAP)

    def _lin_with(self, T: SE3, what: str, tool):
        """A straight move to T (none if the TCP is there already) while the gun does tool() (issued once the move
        is planned, so a move that cannot be planned leaves the gun as it was)."""
        if np.linalg.norm(self.tcp().t - T.t) < ON_THE_SPOT:
            return tool()
        motion = self.move_lin(T, self.lin_speed, what)
        return motion if isinstance(motion, Failure) else self.together(motion, tool())

    def _begin_approach(self):
        name = self.spot[0]
        motion = self.move_ptp_to_pose(self._out(), f"approach to spot {name}", self.speed_scale)
        return motion if isinstance(motion, Failure) else self.together(motion, self.ctx.spot.open())

    def _begin_position(self):
        return self.move_lin(self._off(), self.lin_speed, f"position on spot {self.spot[0]}")

    def _begin_close(self):
        """The fixed electrode onto the sheet while the moving one closes; the gun then clamps with the force."""
        return self._lin_with(self._on(), f"close on spot {self.spot[0]}", lambda: self.ctx.spot.close(self.force))

    def _begin_dwell(self):
        return self.ctx.spot.weld(self.dwell)

    def _begin_open(self):
        return self._lin_with(self._off(), f"open from spot {self.spot[0]}", self.ctx.spot.open)

    def _begin_retreat(self):
        return self.move_lin(self._out(), self.lin_speed, f"retreat from spot {self.spot[0]}")

    def resume_step(self):
        """A spot interrupted while clamping or welding is clamped and welded again; otherwise the interrupted step
        is done again."""
        step = self.interrupted_step
        return SpotStep.CLOSE if step is SpotStep.DWELL else step

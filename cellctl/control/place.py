"""Place: transfer above the target, lower in a line, release just above the seat, verify, retreat."""

from __future__ import annotations

from enum import Enum, auto

from spatialmath import SE3

from cellctl.control.machine import Check, Failure, TaskMachine

RELEASE_CLEARANCE = 0.002  # m above the seat: the part is let go, not pressed into the fixture
SETTLE_TIME = 0.3  # s the part is given to come to rest after release


class PlaceStep(Enum):
    IDLE = auto()
    TRANSFER = auto()
    LOWER = auto()
    RELEASE = auto()
    VERIFY_PLACE = auto()
    RETREAT = auto()
    DONE = auto()
    FAILED = auto()
    INTERRUPTED = auto()


class PlaceMachine(TaskMachine):
    STEPS = PlaceStep
    KIND = "place"

    def __init__(self, task_id, ctx, on_event, part: str, T_world_target: SE3, T_part_grasp: SE3, approach: float,
                 lin_speed: float, speed_scale: float = 1.0, via: list | None = None, blend: bool = False,
                 onto: str | None = None):
        self.part, self.T_world_target, self.T_part_grasp = part, T_world_target, T_part_grasp
        self.onto = onto  # the part whose feature the target is (None: a fixture's): the part rests on it
        self.via, self.blend = list(via or []), blend
        self.approach, self.lin_speed, self.speed_scale = approach, lin_speed, speed_scale
        super().__init__(task_id, ctx, on_event)

    def _place(self) -> SE3:
        return SE3.Tz(RELEASE_CLEARANCE) * self.T_world_target * self.T_part_grasp

    def _begin_transfer(self):
        """Through the transfer waypoints (if the program gives any) to above the target."""
        qs = self.joint_targets(self.via, "transfer waypoint", self.ctx.robot.state().q)
        if isinstance(qs, Failure):
            return qs
        what = f"pre-place pose for '{self.part}'"
        q = self.solve(self._place() * SE3.Tz(-self.approach), qs[-1] if qs else self.ctx.robot.state().q, what)
        if isinstance(q, Failure):
            return q
        return self.move_ptp_via(qs + [q], self.speed_scale, self.blend, f"transfer of '{self.part}'")

    def _begin_lower(self):
        return self.move_lin(self._place(), self.lin_speed, f"place pose of '{self.part}'")

    def _begin_release(self):
        return self.ctx.gripper.open()

    def _begin_verify_place(self):
        t0 = self.ctx.clock.now()
        return Check(lambda: self.ctx.clock.now() - t0 >= SETTLE_TIME, self._verify_place)

    def _verify_place(self) -> Failure | None:
        if self.ctx.gripper.state().holding:
            return Failure("placement", f"the gripper still holds '{self.part}' after opening")
        self.ctx.parts.placed(self.part, self.T_world_target, self.onto)
        self.ctx.let_go()
        return None

    def _begin_retreat(self):
        return self.move_lin(self._place() * SE3.Tz(-self.approach), self.lin_speed, f"retreat from '{self.part}'")

    def resume_step(self):
        """Still holding: go back above the target and lower again. Released: verify, then retreat.
        Lost the part before releasing it: the task cannot go on."""
        holding = self.ctx.gripper.state().holding
        if holding:
            return PlaceStep.TRANSFER
        if self.interrupted_step in (PlaceStep.RELEASE, PlaceStep.VERIFY_PLACE):
            return PlaceStep.RELEASE  # open fully (the jaws may have stopped half-way), then verify
        if self.interrupted_step is PlaceStep.RETREAT:
            return PlaceStep.RETREAT
        return Failure("grasp", f"'{self.part}' was no longer held when the cell restarted after the e-stop")

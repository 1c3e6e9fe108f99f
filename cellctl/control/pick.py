"""Pick: approach above the part, descend in a line, close, verify the grasp in the world, lift.

A grasp that the world does not confirm is retried (open, back up, descend, close again) up to
`retries` times before the task fails: a part that settled late or a jaw that slipped gets a second chance.
"""

from __future__ import annotations

from enum import Enum, auto

from spatialmath import SE3

from cellctl.control.machine import Check, Failure, TaskMachine


class PickStep(Enum):
    IDLE = auto()
    APPROACH = auto()
    PREGRASP = auto()
    CLOSE = auto()
    VERIFY_GRASP = auto()
    LIFT = auto()
    REGRASP = auto()
    DONE = auto()
    FAILED = auto()
    INTERRUPTED = auto()


class PickMachine(TaskMachine):
    STEPS = PickStep
    KIND = "pick"
    DETOURS = {PickStep.REGRASP: PickStep.PREGRASP}

    def __init__(self, task_id, ctx, on_event, part: str, T_part_grasp: SE3, approach: float, lin_speed: float,
                 speed_scale: float = 1.0, retries: int = 1):
        self.part, self.T_part_grasp = part, T_part_grasp
        self.approach, self.lin_speed, self.speed_scale = approach, lin_speed, speed_scale
        self.retries = retries
        super().__init__(task_id, ctx, on_event)

    def _add_transitions(self, machine) -> None:
        machine.add_transition("retry", PickStep.VERIFY_GRASP, PickStep.REGRASP)

    def _grasp(self) -> SE3:
        return self.ctx.parts.poses[self.part] * self.T_part_grasp

    def _begin_approach(self):
        if self.ctx.gripper.state().holding:
            return Failure("grasp", f"the gripper already holds a part; place it before picking '{self.part}'")
        motion = self.move_ptp_to_pose(self._grasp() * SE3.Tz(-self.approach), f"pre-grasp pose above '{self.part}'", self.speed_scale)
        return self.together(motion, self.ctx.gripper.open())

    def _begin_pregrasp(self):
        return self.move_lin(self._grasp(), self.lin_speed, f"grasp pose on '{self.part}'")

    def _begin_close(self):
        # from the moment the jaws close, the part counts as the robot's for the zone interlocks
        self.ctx.take(self.part, self.T_part_grasp.inv())
        return self.ctx.gripper.close()

    def _begin_verify_grasp(self):
        return Check(lambda: True, self._verify_grasp)

    def _verify_grasp(self) -> Failure | None:
        state = self.ctx.gripper.state()
        if state.holding:
            return None
        return Failure("grasp", f"the gripper closed to {2000 * state.opening:.0f} mm but is not holding '{self.part}': "
                                "both fingers must touch the part. Check the grasp frame and the part's pose in the cell")

    def _recover(self, problem: Failure) -> bool:
        if self.state is PickStep.VERIFY_GRASP and self.retries > 0:
            self.retries -= 1
            self.retry()
            return True
        return False

    def _begin_regrasp(self):
        self.ctx.let_go()
        motion = self.move_lin(self._grasp() * SE3.Tz(-self.approach), self.lin_speed, f"back up from '{self.part}' to grasp again")
        return self.together(motion, self.ctx.gripper.open())

    def _begin_lift(self):
        return self.move_lin(self._grasp() * SE3.Tz(-self.approach), self.lin_speed, f"lift of '{self.part}'")

    def resume_step(self):
        """Holding the part: confirm the grasp again, then lift. Otherwise start over from the approach."""
        if self.ctx.gripper.state().holding:
            return PickStep.LIFT if self.interrupted_step is PickStep.LIFT else PickStep.VERIFY_GRASP
        return PickStep.APPROACH

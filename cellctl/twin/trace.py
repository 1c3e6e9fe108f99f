"""The recorded run of the twin: what the simulated world did, step by step. Plain data, no PyBullet."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from cellctl.model.program import Program


@dataclass
class RobotTrace:
    """Per-step joint state of one arm as simulated, beside what its driver commanded."""

    name: str
    joint_names: list[str]
    lower: np.ndarray
    upper: np.ndarray
    velocity_limit: np.ndarray
    effort_limit: np.ndarray
    q: list = field(default_factory=list)
    qd: list = field(default_factory=list)
    tau: list = field(default_factory=list)
    q_cmd: list = field(default_factory=list)
    tcp: list = field(default_factory=list)  # 4x4 world pose of the TCP, as simulated
    fingers: list = field(default_factory=list)  # finger joint positions (m)


@dataclass(frozen=True)
class Contact:
    """One touching pair of bodies (named body/link) at one step: deepest penetration and total force."""

    t: float
    a: str  # "body" or "body/link"
    b: str
    depth: float  # m, > 0 is penetration
    force: float  # N
    where: tuple  # world point on a


@dataclass(frozen=True)
class Proximity:
    """One pair closer than the trace's clearance cap at one step: a robot's link (tool included) or a held part,
    and something else; the shortest distance between them (m, negative when penetrating)."""

    t: float
    a: str  # "robot/link" or a held part
    b: str
    distance: float  # m


@dataclass(frozen=True)
class Attachment:
    t: float
    action: str  # "attach" | "detach"
    robot: str
    part: str
    grip_depths: tuple = ()  # per finger, how deep it reaches over the part along the approach axis, m (attach only)


@dataclass
class Trace:
    dt: float
    t: list = field(default_factory=list)
    robots: dict = field(default_factory=dict)  # name -> RobotTrace
    parts: dict = field(default_factory=dict)  # name -> list of 4x4 world poses
    contacts: list = field(default_factory=list)  # Contact
    attachments: list = field(default_factory=list)  # Attachment
    bodies: dict = field(default_factory=dict)  # body name -> kind: robot, fixture, part, floor
    mounts: dict = field(default_factory=dict)  # robot -> its base link (fixed to the world; its contacts are mounting)
    tool_links: dict = field(default_factory=dict)  # robot -> names of the links of its tool
    finger_links: dict = field(default_factory=dict)  # robot -> names of its gripper's finger links
    resting: dict = field(default_factory=dict)  # part -> the part it lay on as the cell laid them out
    layout_overlaps: list = field(default_factory=list)  # (a, b, depth m): bodies the cell lays out inside each other
    zone_changes: list = field(default_factory=list)  # (t, zone, robots inside): whenever who is inside changes
    arcs: list = field(default_factory=list)  # (t, robot, established): whenever a robot's arc starts or stops
    joins: list = field(default_factory=list)  # (t, robot, a, b): a weld bead joined two bodies (twin.beads)
    bead_wets: list = field(default_factory=list)  # (t, robot, m of bead laid this step, bodies the pool wetted)
    bead_gaps: list = field(default_factory=list)  # (t, robot, part, m): a part near a burning arc that it did not wet
    bolted: list = field(default_factory=list)  # (t, robot, hole, owner, body): a tightened bolt fixed its owner to body
    fastenings: list = field(default_factory=list)  # dicts: robot, t_s, torque_nm, angle_deg, hole (at each run's end)
    spots: list = field(default_factory=list)  # dicts: robot, t_s, spot, force_n, dwell_s, welded, ... (at each weld's end)
    spindles: dict = field(default_factory=dict)  # robot -> [(t, angle rad since the run began, torque N m)] while running
    holes_off_owner: dict = field(default_factory=dict)  # OWNER.HOLE -> why the cell's hole is not on its owner
    clearance_cap: float = 0.0  # m: pairs farther apart than this are not in `proximities` (0: not measured)
    proximities: list = field(default_factory=list)  # Proximity, per step, for robots and held parts near anything

    def index_at(self, t: float) -> int:
        """Index of the last recorded step at or before t."""
        i = bisect.bisect_right(self.t, t + 1e-9) - 1
        return max(0, min(i, len(self.t) - 1))


@dataclass
class SimResult:
    """A program's whole simulated run: the trace of the world and the controllers' timeline."""

    program: Program
    seed: int
    trace: Trace
    tasks: list[dict]
    events: list[dict]
    failure: tuple | None
    cycle_time: float
    timed_out: bool
    interlock_proof: str = ""  # what the preflight proved about the zone interlocks
    crossings: list = field(default_factory=list)  # where the preflight found robots only timing keeps apart

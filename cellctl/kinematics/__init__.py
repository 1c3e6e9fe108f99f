"""Kinematics: an Arm read from its URDF by roboticstoolbox, with fk and ik in the world frame."""

from cellctl.kinematics.arm import Arm, IKResult

__all__ = ["Arm", "IKResult"]

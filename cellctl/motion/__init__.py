"""Motion: joint trajectories, PTP moves time-scaled by ruckig, and LIN moves solved by IK."""

"""The PyBullet digital twin (world.py imports pybullet; trace.py and assembly.py do not)."""

"""cellctl: a robot cell controller that proves every program in a PyBullet twin before hardware."""

__version__ = "0.1.0"

"""Drivers: the API controllers use to reach robots and tools (base), and its implementations."""

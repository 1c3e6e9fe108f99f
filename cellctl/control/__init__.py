"""Controllers: task state machines and the orchestrator. They reach robots only through cellctl.drivers.base."""

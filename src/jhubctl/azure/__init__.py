"""Azure: one adapter over the ARM SDK, and one module per resource family that builds desired state."""

"""hub checks (placeholder while the area is written)."""

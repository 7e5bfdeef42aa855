"""Steps and their runner: check → ensure → verify → record, over a dependency graph."""

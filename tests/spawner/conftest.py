"""Fixtures for the conversation spawner tests.

The spawner package is tested from this source tree (``src/``, on the path through pytest's
``pythonpath`` setting), whether or not jhubctl is installed: it is the tree the hub image copies.
"""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
SPAWNER_PACKAGE = SRC / "jhubctl" / "spawner"

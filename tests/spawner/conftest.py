"""Fixtures for the conversation spawner tests.

The spawner package is tested from this source tree (``src/``), whether or not jhubctl is installed
in the venv: it is the tree that gets copied into the hub image.
"""

from __future__ import annotations

import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
SPAWNER_PACKAGE = SRC / "jhubctl" / "spawner"

if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

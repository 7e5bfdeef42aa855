import sys
from pathlib import Path

# `python -m pytest` puts the project root on sys.path; plain `pytest` does not.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fakes.arm.fixtures import fake_arm, fake_arm_factory  # noqa: E402,F401
from tests.fakes.graph.fixtures import fake_graph, fake_graph_factory  # noqa: E402,F401

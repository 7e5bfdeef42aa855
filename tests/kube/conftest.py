import sys
from pathlib import Path

# `python -m pytest` puts the project root on sys.path; plain `pytest` does not.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fakes.kube.fixtures import fake_kube, fake_kube_factory, kubeconfig  # noqa: E402,F401

"""A fake Azure Resource Manager (HTTPS) that the real azure-mgmt SDK clients talk to.

See :class:`FakeArm` for the endpoint, :class:`Faults` for fault injection and
:mod:`tests.fakes.arm.fixtures` for the pytest fixtures.
"""

from .common import ArmError, RequestRecord
from .credential import StaticTokenCredential
from .faults import FaultResponse, Faults
from .lro import LroSettings, LroStyle
from .server import FakeArm
from .store import ResourceStore

__all__ = [
    "ArmError",
    "FakeArm",
    "FaultResponse",
    "Faults",
    "LroSettings",
    "LroStyle",
    "RequestRecord",
    "ResourceStore",
    "StaticTokenCredential",
]

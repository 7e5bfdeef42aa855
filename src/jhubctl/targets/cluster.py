"""The cluster targets: `kubernetes` (an existing cluster from a kubeconfig) and `azure` (provision first).

The hub URL is what `deploy-hub` records under `HUB_STEP`; both targets read it from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError
from . import DownResult, Target, UpResult

if TYPE_CHECKING:
    from ..output import Output

#: The journal step whose outputs hold the deployed hub's URL.
HUB_STEP = "deploy-hub"


class KubernetesTarget(Target):
    name = "kubernetes"
    setup_command = "jhubctl deploy-hub"

    def up(self, out: Output, *, smoke_test: bool = True) -> UpResult:
        raise UsageError(
            f"`up` for target {self.name!r} is not available yet",
            hint="set target: local in the config, or use the step commands as they land (see docs/)",
        )

    def down(self, out: Output) -> DownResult:
        raise UsageError(f"`down` for target {self.name!r} is not available yet")

    def recorded_url(self) -> str | None:
        from ..state import Journal

        record = Journal(self.loaded.state_dir).get(HUB_STEP)
        if record is None or record.status != "succeeded" or not record.outputs.get("url"):
            return None
        return str(record.outputs["url"])


class AzureTarget(KubernetesTarget):
    name = "azure"

"""The hub's services, the same on every target: the assistant's API service and the idle culler.

Their scopes and the culler's flags are decided once here; the local hub's config and the chart's
values both read them, so the local hub and the cluster hub grant exactly the same.
"""

from __future__ import annotations

from .config import CullConfig

CULLER_SERVICE = "idle-culler"

#: What the assistant's service may do: create users, start/stop servers, talk to them, and mint a
#: user's own tokens (`jhubctl token --user`, the guide's `getOrRenewUserToken`). A minted token can only
#: carry scopes its *user* holds (JupyterHub checks them against the owner, not the requester), so
#: `tokens` never yields more than one user's own rights. The seed also granted `admin:servers`,
#: which no call needs. docs/security.md explains each scope.
API_SERVICE_SCOPES = ["admin:users", "servers", "access:servers", "tokens"]

#: A per-user token, for an assistant that serves one user: start, stop and remove that user's own
#: servers (`servers!user`, with read:servers and delete:servers), reach them through the proxy
#: (`access:servers!user`), read the user's own model (`read:users!user`). No admin scope, no
#: `tokens` (it cannot mint further tokens), nothing about any other user.
USER_TOKEN_SCOPES = ["servers!user", "access:servers!user", "read:users!user"]


def culler_scopes(cull: CullConfig) -> list[str]:
    scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
    return scopes + (["admin:users"] if cull.users else [])


def culler_args(cull: CullConfig) -> list[str]:
    """jupyterhub-idle-culler flags; `--api-page-size` has no chart value, so it is always passed here."""
    args = [
        f"--timeout={cull.timeout}",
        f"--cull-every={cull.every}",
        f"--concurrency={cull.concurrency}",
        "--api-page-size=200",
    ]
    if cull.max_age:
        args.append(f"--max-age={cull.max_age}")
    if cull.remove_named_servers:
        args.append("--remove-named-servers=true")
    if cull.users:
        args.append("--cull-users=true")
    return args

"""The z2jh chart's values, made from the config: each key carries one decision (docs/cluster.md lists why).

Pure: the config and a few facts (image, claim, token, pull secret) in, a dict out. The API token is the
only secret; :func:`redact` removes it for anything shown or written (``--dry-run``, ``--values-out``).
A user's own values file (``hub.values_file``) is merged last, so anything here can be overridden on
purpose, and the result is checked against the chart's schema before helm sees it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import singleuser, standalone
from ..config import Config
from ..errors import UsageError
from ..services import API_SERVICE_SCOPES, culler_args

SPAWNER_CLASS = "jhubctl.spawner.kube.KubeConversationSpawner"
AUTHENTICATOR_CLASS = "jhubctl.spawner.auth.ConversationAuthenticator"
#: The name z2jh gives its culler service (its command is built from the cull.* values).
CHART_CULLER = "jupyterhub-idle-culler"
#: Culler flags the chart itself sets from cull.* values; any other flag jhubctl wants goes in through extraConfig.
CHART_CULL_FLAGS = ("--timeout", "--cull-every", "--concurrency", "--max-age", "--remove-named-servers", "--cull-users")
REDACTED = "<redacted>"
#: Where an image of the user's own (registry.singleuser_image) gets the server plugins, from the chart's
#: singleuser Secret (`singleuser.extraFiles`); the image jhubctl builds has them installed.
PLUGINS_PATH = "/usr/local/share/jhubctl"


@dataclass(frozen=True)
class Facts:
    """What the values need beyond the config."""

    hub_image: str  # repository
    hub_tag: str
    claim: str
    token: str
    singleuser_image: str  # the one build-singleuser-image made, or registry.singleuser_image
    pull_secret: str | None = None  # service-principal mode only


def image_parts(reference: str) -> tuple[str, str]:
    """``host:5000/name:tag`` -> (``host:5000/name``, ``tag``)."""
    head, _, last = reference.rpartition("/")
    name, _, tag = last.partition(":")
    return (f"{head}/{name}" if head else name), tag


def secret_paths(config: Config) -> list[tuple[str, ...]]:
    return [("hub", "services", config.hub.api_service_name, "apiToken")]


def values(config: Config, facts: Facts) -> dict[str, Any]:
    hub, servers, cull = config.hub, config.servers, config.hub.cull
    service = hub.api_service_name
    singleuser_name, singleuser_tag = image_parts(facts.singleuser_image)
    out: dict[str, Any] = {
        "hub": {
            "image": {"name": facts.hub_image, "tag": facts.hub_tag},
            "config": {
                "JupyterHub": {"spawner_class": SPAWNER_CLASS, "authenticator_class": AUTHENTICATOR_CLASS},
                # The options every user server gets (the local hub passes the same): the chart has no value
                # for them, and its `singleuser.cmd` stays the image's own command.
                "KubeSpawner": {"delete_pvc": False, "args": [*servers.server_args(), *singleuser.OPTIONS]},
                "KubeConversationSpawner": {
                    "shared_claim_name": facts.claim,
                    "conversation_mount_path": servers.mount_path,
                },
            },
            "allowNamedServers": True,
            "namedServerLimitPerUser": servers.named_server_limit,
            # A spawn that fails five times in a row (the chart's default) makes the hub exit; every
            # conversation would go down with it.
            "consecutiveFailureLimit": 0,
            "services": {service: {"apiToken": facts.token}},
            "loadRoles": {service: {"scopes": list(API_SERVICE_SCOPES), "services": [service]}},
        },
        "singleuser": {
            "image": {"name": singleuser_name, "tag": singleuser_tag},
            "uid": servers.uid,
            "fsGid": servers.fs_gid,
            "startTimeout": int(servers.start_timeout),
            # No per-user claim: the spawner mounts the one shared claim at the conversation's sub-path.
            "storage": {"type": "none"},
            # All four always: null drops the chart's default (a 1G memory guarantee, which a smaller limit
            # would contradict); with a limit and no guarantee, Kubernetes reserves the limit.
            "cpu": {"limit": servers.cpu_limit, "guarantee": servers.cpu_guarantee},
            "memory": {"limit": servers.mem_limit, "guarantee": servers.mem_guarantee},
        },
        "cull": {
            "enabled": cull.enabled,
            "timeout": cull.timeout,
            "every": cull.every,
            "concurrency": cull.concurrency,
            "users": cull.users,
            "removeNamedServers": cull.remove_named_servers,
            "maxAge": cull.max_age,
        },
    }
    if config.registry.singleuser_image:
        out["singleuser"] |= plugin_files()
    extra = [flag for flag in culler_args(cull) if flag.split("=", 1)[0] not in CHART_CULL_FLAGS]
    if cull.enabled and extra:
        out["hub"]["extraConfig"] = {"jhubctl-culler": _culler_config(extra)}
    if facts.pull_secret:
        out["imagePullSecrets"] = [facts.pull_secret]
    if hub.domain:
        https: dict[str, Any] = {"enabled": True, "type": "letsencrypt", "hosts": [hub.domain]}
        if hub.letsencrypt_email:
            https["letsencrypt"] = {"contactEmail": hub.letsencrypt_email}
        out["proxy"] = {"https": https}
    return out


def plugin_files() -> dict[str, Any]:
    """The server plugins as files mounted into an image jhubctl did not build, and the path that imports them."""
    files = {
        path.replace("/", "-"): {"mountPath": f"{PLUGINS_PATH}/{path}", "stringData": content.decode(), "mode": 0o644}
        for path, content in standalone.files("singleuser").items()
    }
    return {"extraFiles": files, "extraEnv": {"PYTHONPATH": PLUGINS_PATH}}


def _culler_config(flags: list[str]) -> str:
    return (
        "# jhubctl: culler flags the chart has no value for (jhubctl.services.culler_args)\n"
        "for _service in c.JupyterHub.services:\n"
        f"    if _service.get('name') == {CHART_CULLER!r}:\n"
        f"        _service['command'].extend({json.dumps(flags)})\n"
    )


def merge(base: Any, overlay: Any) -> Any:
    """``overlay`` over ``base``: maps merged key by key, anything else replaced (helm's own rule)."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = copy.deepcopy(base)
        for key, value in overlay.items():
            out[key] = merge(base.get(key), value)
        return out
    return copy.deepcopy(overlay)


def overlay(config: Config, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the user's ``hub.values_file`` merged over it."""
    path = config.hub.values_file
    if path is None:
        return data
    try:
        extra = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"hub.values_file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"hub.values_file {path} is not valid YAML: {exc}") from None
    if extra is None:
        return data
    if not isinstance(extra, dict):
        raise UsageError(f"hub.values_file {path} must hold a mapping of values, not {type(extra).__name__}")
    return merge(data, extra)


def redact(config: Config, data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for path in secret_paths(config):
        node: Any = out
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(path[-1]) is not None:
            node[path[-1]] = REDACTED
    return out


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the extraConfig snippet) as literal blocks, readable in --values-out files."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)

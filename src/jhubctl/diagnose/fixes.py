"""Every fix diagnose can print, as templates: one place to read them all, and one list a test checks.

A fix is a sentence naming at least one command in backticks, with the finding's own values filled in
(shell-quoted), so it can be pasted as it is. Checks build fixes only through :func:`fix`; the test walks
:data:`FIXES` and runs each jhubctl command through the real command line's parser, and checks that the
kubectl, helm and az commands are well formed.
"""

from __future__ import annotations

import shlex
import string

FIXES: dict[str, str] = {
    # local
    "config-edit": "correct {key} in {file}, then `jhubctl config validate`",
    "config-fix": "correct {file} as the error says, then `jhubctl config validate`",
    "tool-install": "install {program} ({url}) or set {key} to its path, then `{check:s}`",
    "local-extra": "install the local target's packages (proxy, culler, JupyterHub): `pip install 'jhubctl[local]'`",
    "rerun-step": "run it again, it resumes where it stopped: `jhubctl {command}`",
    "local-up": "`jhubctl up`",
    "local-restart": "restart the local hub: `jhubctl down`, then `jhubctl up`",
    "leftovers": "`jhubctl down` stops them (the state dir records them)",
    "free-port": "set local.port to a free port (or 0) in {file}, then `jhubctl up`",
    "chmod": "`chmod {mode} {path}`",
    # azure
    "az-login": "`az login{tenant:s}` (or export JHUBCTL_AZURE_ACCESS_TOKEN), then `jhubctl diagnose --only azure`",
    "az-subscriptions": "set azure.subscription_id to one this identity sees: `az account list --output table`",
    "provision": "`jhubctl provision`",
    "provision-only": "`jhubctl provision{only:s}`",
    "aks-start": "`az aks start --resource-group {group} --name {cluster}`",
    "allow-ip": "add {ip} to network.allowed_source_ips in {file}, then `jhubctl provision --only network`",
    "pull-secret-renew": "delete it, and deploy-hub makes a new one: `kubectl --namespace {namespace} delete secret "
                         "{secret}`, then `jhubctl deploy-hub`",
    # cluster
    "kubeconfig": "check the kubeconfig and context: `kubectl --kubeconfig {path}{context:s} get nodes`",
    "describe-node": "`kubectl describe node {node}`",
    "describe-pod": "`kubectl --namespace {namespace} describe pod {pod}`",
    "describe-service": "`kubectl --namespace {namespace} describe service {service}`",
    "rebuild-hub": "`jhubctl build-hub-image` builds for the nodes' architecture, then `jhubctl deploy-hub`",
    "singleuser-image": "`jhubctl build-singleuser-image` builds for the nodes' architecture (or set "
                        "registry.singleuser_image to an image published for {platform}), then `jhubctl deploy-hub`",
    "csidriver-patch": "`kubectl patch csidriver {driver} --type merge --patch '{{\"spec\":{{\"fsGroupPolicy\":\"File\"}}}}'`",
    "apply-storage": "`jhubctl apply-storage`",
    "deploy-hub": "`jhubctl deploy-hub`",
    "helm-rollback": "`helm rollback {release} --namespace {namespace}` restores the last good revision, then "
                     "`jhubctl deploy-hub`",
    "helm-uninstall": "nothing was installed yet: `helm uninstall {release} --namespace {namespace}`, then "
                      "`jhubctl deploy-hub`",
    "base-image": "drop hub.base_image (or make it the chart's own {version} image) in {file}, then `jhubctl up`",
    "previous-log": "read the whole log of its last run: `jhubctl logs {target:s} --previous`",
    "hub-package": "the hub image lacks {module}: add it to hub.base_image or remove its use from hub.values_file, "
                   "then `jhubctl up`",
    "user-package": "the user image lacks {module}: add its package to interpreter.requirements (or use a "
                    "registry.singleuser_image that has it), then `jhubctl up`",
    "values-rollback": "the last values change broke the hub's config: `helm rollback {release} --namespace "
                       "{namespace}`, correct hub.values_file, then `jhubctl deploy-hub`",
    "build-hub": "the image is not in the registry: `jhubctl build-hub-image`, then `jhubctl deploy-hub`",
    "image-missing": "{image} is not in its registry: `jhubctl build-singleuser-image` (or correct "
                     "registry.singleuser_image), then `jhubctl deploy-hub`",
    "image-auth": "the nodes may not pull from {host}: grant them pull access (or add imagePullSecrets in "
                  "hub.values_file), then `jhubctl deploy-hub`",
    "scale-aks": "raise aks.max_count (now {count}) in {file}, then `jhubctl provision --only aks`",
    "public-ip-quota": "free a public IP or raise the quota: `az network public-ip list --output table`",
    "logs": "`jhubctl logs {target:s}`",
    # hub
    "stop-server": "`jhubctl stop-server {user} {conversation}`, then read why: `jhubctl logs {user} {conversation}`",
    "start-server": "`jhubctl start-server {user} {conversation}`",
    "servers": "see which servers run: `jhubctl servers`",
    "restart-server": "`jhubctl stop-server {user} {conversation}`, then `jhubctl start-server {user} {conversation}`",
    "cull-enable": "set hub.cull.enabled: true in {file}, then `jhubctl {command}`",
}


class _Quoted(string.Formatter):
    def format_field(self, value: object, format_spec: str) -> str:
        return shlex.quote(str(value)) if not format_spec else format(value, format_spec)


def fix(name: str, /, **values: object) -> str:
    """The fix ``name`` with ``values`` filled in, each shell-quoted (``{x:s}`` keeps one as it is)."""
    return _Quoted().format(FIXES[name], **values)


def only(*steps: str) -> str:
    """`` --only a --only b`` for the provision-only fix (an empty string: all steps)."""
    return "".join(f" --only {shlex.quote(step)}" for step in steps)

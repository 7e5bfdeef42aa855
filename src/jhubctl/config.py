"""The one configuration model: defaults and validation (its loader and cache: `config_file.py`).

Every command reads the same YAML file through `load_config`, so a value means the same thing to
`provision`, `deploy-hub` and `exec`. Defaults are the seed guide's values, except where the seed is
wrong (see docs/). Models forbid unknown keys: a typo must fail loudly, as the chart's schema does.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# The loader lives apart, without pydantic, so that a cached config needs none of this module; it is
# imported from here too, as it always was.
from .config_file import DEFAULT_CONFIG_NAME, ENV_OVERRIDES, STATE_DIR_NAME, Loaded, load_config  # noqa: F401
from .errors import ConfigError

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class Section(BaseModel):
    # inf and nan are floats to YAML (`.inf`, `.nan`) but never a meaningful timeout or limit.
    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True, allow_inf_nan=False)


def _network(value: str, key: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 CIDR such as 10.240.0.0/16 ({exc})") from None


#: Ranges Azure storage firewall rules refuse (only public internet addresses are allowed): RFC 1918,
#: CGNAT (RFC 6598), loopback, link-local, "this network", multicast and reserved.
NOT_PUBLIC = tuple(ipaddress.IPv4Network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"))
#: Ranges AKS reserves for itself: a service CIDR must not overlap them.
AKS_RESERVED = tuple(ipaddress.IPv4Network(n) for n in (
    "169.254.0.0/16", "172.30.0.0/16", "172.31.0.0/16", "192.0.2.0/24"))


def public_ipv4_problem(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str | None:
    """Why the storage firewall would refuse this source (it takes public IPv4 only, no /31), or None."""
    if net.version != 4:
        return "an IPv6 address (the storage firewall takes IPv4 only)"
    if net.prefixlen == 31:
        return "a /31 (the storage firewall takes no /31 or /32: list the two addresses instead)"
    for block in NOT_PUBLIC:
        if net.overlaps(block):
            return f"not a public address (it overlaps {block}; the storage firewall takes public IPv4 only)"
    return None


class AzureConfig(Section):
    """Where resources live and which ARM endpoint to talk to (sovereign clouds and Azure Stack differ)."""

    subscription_id: str | None = Field(None, description="Subscription to provision into (az account set).")
    tenant_id: str | None = Field(None, description="Tenant for interactive credentials (az login --tenant).")
    location: str = Field("eastus", description="Azure region of every resource.")
    resource_group: str = Field("jhub-rg", description="Resource group holding everything jhubctl creates.")
    arm_endpoint: str = Field("https://management.azure.com", description="Azure Resource Manager URL.")
    graph_endpoint: str = Field("https://graph.microsoft.com", description="Microsoft Graph URL.")

    @field_validator("arm_endpoint", "graph_endpoint")
    @classmethod
    def _https(cls, v: str) -> str:
        if not v.startswith("https://"):
            raise ValueError(f"{v!r} must be an https:// URL (Azure SDKs refuse to send tokens over http)")
        return v.rstrip("/")


class NetworkConfig(Section):
    vnet_name: str = "jhub-vnet"
    vnet_cidr: str = Field("10.0.0.0/8", description="VNet address space (--address-prefixes).")
    subnet_name: str = "jhub-subnet"
    subnet_cidr: str = Field("10.240.0.0/16", description="AKS node subnet (--subnet-prefix).")
    nsg_name: str = "jhub-nsg"
    allowed_source_ips: Literal["auto"] | list[str] = Field(
        "auto", description="CIDRs allowed to reach the hub on 80/443, or 'auto' = ask ip_echo_url."
    )
    allow_any_source: bool = Field(False, description="Explicit opt-in for 0.0.0.0/0 or '*' sources.")
    ip_echo_url: str = Field("https://ifconfig.me/ip", description="Answers with the caller's public IP.")

    @field_validator("vnet_cidr", "subnet_cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        _network(v, "")
        return v

    @model_validator(mode="after")
    def _coherent(self) -> NetworkConfig:
        if not _network(self.subnet_cidr, "").subnet_of(_network(self.vnet_cidr, "")):
            raise ValueError(f"subnet_cidr {self.subnet_cidr} must lie inside vnet_cidr {self.vnet_cidr}")
        if isinstance(self.allowed_source_ips, list):
            seen: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
            for ip in self.allowed_source_ips:
                if ip.strip() in {"*", "0.0.0.0/0", "any", "internet"}:
                    if not self.allow_any_source:
                        raise ValueError(
                            f"allowed_source_ips contains {ip!r}, which opens the hub to the whole internet; "
                            "list your CIDRs, or set network.allow_any_source: true to mean it"
                        )
                    continue
                try:
                    net = ipaddress.ip_network(ip.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"allowed_source_ips entry {ip!r} is not an IP or CIDR") from None
                problem = public_ipv4_problem(net)
                if problem:
                    raise ValueError(f"allowed_source_ips entry {ip!r} is {problem}")
                clash = next((other for other in seen if other.overlaps(net)), None)
                if clash is not None:  # an NSG rule refuses overlapping prefixes
                    raise ValueError(f"allowed_source_ips entry {ip!r} overlaps {clash}; keep the wider one")
                seen.append(net)
        return self

    @staticmethod
    def normalised(ip: str) -> str:
        """A checked entry as the NSG takes it: `*` for any source, else its network (a host is a /32)."""
        ip = ip.strip()
        return "*" if ip in ("*", "0.0.0.0/0", "any", "internet") else str(ipaddress.ip_network(ip, strict=False))


#: SKUs an NFS v3 (hierarchical namespace) account accepts; Premium ones make a BlockBlobStorage account.
NFS_SKUS = ("Standard_LRS", "Standard_ZRS", "Premium_LRS", "Premium_ZRS")


class StorageConfig(Section):
    account_name: str | None = Field(None, description="Storage account (3-24 lowercase letters/digits).")
    container: str = Field("users", description="Blob container holding every conversation folder.")
    sku: str = Field("Standard_LRS", description="Standard_LRS, Standard_ZRS, Premium_LRS or Premium_ZRS (NFS v3).")
    storage_class: str = "azure-blob-nfs"
    pv_name: str = "azure-blob-nfs-pv"
    pvc_name: str = Field("azure-blob-nfs-pvc", description="The shared claim user pods mount by sub-path.")
    pvc_size: str = "3Gi"
    mount_permissions: str = Field("0770", description="Mode the CSI driver gives the NFS mount root.")
    mount_options: list[str] = Field(
        default_factory=lambda: ["nconnect=4"], description="NFS mount options (nconnect: not on Azure Linux)."
    )

    @field_validator("sku")
    @classmethod
    def _sku(cls, v: str) -> str:
        if v not in NFS_SKUS:
            why = " (NFS v3 accounts refuse geo-redundant SKUs)" if "GRS" in v.upper() or "GZRS" in v.upper() else ""
            raise ValueError(f"{v!r} is not one of {', '.join(NFS_SKUS)}{why}")
        return v

    @field_validator("account_name")
    @classmethod
    def _account(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[a-z0-9]{3,24}", v):
            raise ValueError(f"{v!r} must be 3-24 lowercase letters and digits (Azure storage naming)")
        return v


class RegistryConfig(Section):
    name: str | None = Field(None, description="Azure Container Registry name (5-50 letters/digits).")
    sku: Literal["Basic", "Standard", "Premium"] = "Basic"
    hub_image_name: str = Field("k8s-hub", description="Repository of the custom hub image in the registry.")
    singleuser_image_name: str = Field(
        "singleuser", description="Repository of the user server image build-singleuser-image makes."
    )
    singleuser_image: str | None = Field(
        None, description="A user server image of your own (pinned, never :latest) instead of the one jhubctl builds."
    )
    server: str | None = Field(
        None, description="Registry host[/path] images are pushed to (target kubernetes: required; azure: the ACR)."
    )

    @field_validator("name")
    @classmethod
    def _acr(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9]{5,50}", v):
            raise ValueError(f"{v!r} must be 5-50 letters and digits (ACR naming)")
        return v

    @field_validator("server")
    @classmethod
    def _server(cls, v: str | None) -> str | None:
        if v is not None and (not re.fullmatch(r"[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?", v) or v.endswith("/")):
            raise ValueError(f"{v!r} must be a registry host with an optional port and path, such as ghcr.io/me "
                             "or localhost:5001 (no scheme, lowercase)")
        return v

    @field_validator("singleuser_image")
    @classmethod
    def _pinned(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if ":" not in v.rsplit("/", 1)[-1] or v.endswith(":latest"):
            raise ValueError(f"{v!r} must carry a pinned tag (':latest' changes under running servers)")
        return v


class AksConfig(Section):
    cluster_name: str = Field("jhub-aks", description="Cluster name, also its DNS prefix (1-54 letters, digits, '-').")
    kubernetes_version: str | None = None
    node_count: int = Field(3, ge=1)
    node_vm_size: str = "Standard_D2s_v3"
    min_count: int = Field(3, ge=1)
    max_count: int = Field(6, ge=1)
    service_cidr: str = Field("172.16.0.0/16", description="Kubernetes service range, outside the VNet.")
    dns_service_ip: str = Field("172.16.0.10", description="Cluster DNS IP, inside service_cidr.")
    network_plugin: Literal["azure", "kubenet"] = "azure"
    network_policy: Literal["azure", "calico", "none"] = "azure"
    identity: Literal["managed", "service-principal"] = Field(
        "managed", description="managed: no password anywhere; service-principal: the seed's way."
    )
    service_principal_name: str = "jhub-sp"
    ssh_public_key_path: Path | None = Field(None, description="RSA public key; generated if unset.")

    @field_validator("cluster_name")
    @classmethod
    def _dns_prefix(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,52}[A-Za-z0-9])?", v):
            raise ValueError(f"{v!r} becomes the cluster's DNS prefix: 1-54 letters, digits and '-', starting and "
                             "ending with a letter or digit")
        return v

    @model_validator(mode="after")
    def _coherent(self) -> AksConfig:
        service = _network(self.service_cidr, "")
        reserved = next((block for block in AKS_RESERVED if service.overlaps(block)), None)
        if reserved is not None:
            raise ValueError(f"service_cidr {service} overlaps {reserved}, which AKS reserves")
        try:
            dns = ipaddress.IPv4Address(self.dns_service_ip)
        except ValueError:
            raise ValueError(f"dns_service_ip {self.dns_service_ip!r} is not an IPv4 address") from None
        if dns not in service:
            raise ValueError(f"dns_service_ip {dns} must lie inside service_cidr {service}")
        if dns in (service.network_address, service.network_address + 1, service.broadcast_address):
            raise ValueError(f"dns_service_ip {dns} must not be the first, second or last address of service_cidr")
        if self.network_plugin == "kubenet" and self.network_policy == "azure":
            raise ValueError("network_policy azure needs network_plugin azure; with kubenet use calico or none")
        if not self.min_count <= self.node_count <= self.max_count:
            raise ValueError("node_count must lie between min_count and max_count")
        return self


class KubernetesConfig(Section):
    kubeconfig: Path | None = Field(
        None, description="Kubeconfig file (default: azure: the one provision wrote; kubernetes: $KUBECONFIG or ~/.kube/config)."
    )
    context: str | None = Field(None, description="Context in that kubeconfig (default: its current context).")
    namespace: str = Field("jhub", description="Namespace of the hub release and the shared claim.")
    existing_claim: str | None = Field(
        None, description="Use this ReadWriteMany claim in the namespace instead of creating the blob NFS one."
    )
    node_arch: Literal["amd64", "arm64"] | None = Field(
        None, description="CPU architecture of the nodes (default: azure: from aks.node_vm_size; kubernetes: asked of the nodes)."
    )
    wait_timeout: float = Field(600, gt=0, description="Seconds a wait (claim bound, rollout, address, hub API) may take.")

    @field_validator("namespace", "existing_claim")
    @classmethod
    def _label(cls, v: str | None) -> str | None:
        if v is not None and not _DNS_LABEL.fullmatch(v):
            raise ValueError(f"{v!r} must be lowercase letters, digits and '-' (a DNS label)")
        return v


class ToolsConfig(Section):
    """External programs jhubctl runs; a name is looked up on PATH."""

    helm: str = Field("helm", description="helm 3 (env JHUBCTL_HELM).")
    docker: str = Field("docker", description="docker with buildx, for --local-docker builds (env JHUBCTL_DOCKER).")
    kubectl: str = Field("kubectl", description="kubectl, named in the commands jhubctl suggests (env JHUBCTL_KUBECTL).")


class CullConfig(Section):
    enabled: bool = True
    timeout: int = Field(3600, ge=10, description="Seconds of inactivity before a server is stopped.")
    every: int = Field(600, ge=1, description="Seconds between culler runs.")
    remove_named_servers: bool = Field(True, description="Delete culled named servers (one per conversation).")
    users: bool = Field(False, description="Also delete idle users (needs admin:users for the culler).")
    max_age: int = Field(0, ge=0, description="Stop servers older than this many seconds (0 = never).")
    concurrency: int = Field(10, ge=1)


class HubConfig(Section):
    url: str | None = Field(None, description="URL of an existing hub to use instead of the recorded one (any target).")
    release: str = "jhub"
    chart_version: str = Field("3.1.0", description="z2jh chart version; the hub image is built FROM the same.")
    chart_repo: str = "https://hub.jupyter.org/helm-chart/"
    base_image: str | None = Field(
        None, description="Hub image to build FROM (default: the chart's k8s-hub image of chart_version)."
    )
    values_file: Path | None = Field(None, description="Helm values of your own, merged over jhubctl's last.")
    domain: str | None = Field(None, description="Serve the hub over HTTPS at this name (Let's Encrypt certificates).")
    letsencrypt_email: str | None = Field(None, description="Contact address given to Let's Encrypt (with domain).")
    api_service_name: str = Field("assistant", description="JupyterHub service whose token the assistant uses.")
    cull: CullConfig = Field(default_factory=CullConfig)

    @field_validator("api_service_name", "release")
    @classmethod
    def _label(cls, v: str) -> str:
        if not _DNS_LABEL.fullmatch(v):
            raise ValueError(f"{v!r} must be lowercase letters, digits and '-' (a DNS label)")
        return v

    @field_validator("chart_version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", v):
            raise ValueError(f"{v!r} must be a chart version such as 3.1.0")
        return v

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", v):
            raise ValueError(f"{v!r} must be a DNS name such as hub.example.org (lowercase, no scheme)")
        return v


#: Kubernetes-style byte quantities as KubeSpawner reads mem_limit: K, M, G, T are powers of 1024.
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")


def byte_count(value: str) -> int:
    """'2G' -> 2147483648, the way KubeSpawner (and so the chart) reads singleuser memory values."""
    match = _BYTES.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a size such as 512M or 2G (K, M, G, T = powers of 1024)")
    number, unit = match.groups()
    return int(float(number) * 1024 ** " KMGT".index(unit or " "))


class ServersConfig(Section):
    """User servers; the limits and guarantees mean the same on every target (see docs/interpreter.md)."""

    start_timeout: float = Field(300, gt=0, description="Seconds a server may take to become ready.")
    progress_idle_timeout: float = Field(120, gt=0, description="Seconds without a progress event.")
    exec_timeout: float = Field(60, gt=0, description="Seconds code may run before it is interrupted.")
    named_server_limit: int = Field(0, ge=0, description="Conversations a user may run at once (0 = no limit).")
    mount_path: str = Field("/home/jovyan/work", description="Where a conversation's folder is mounted.")
    uid: int = 1000
    fs_gid: int = 100
    cpu_limit: float | None = Field(None, gt=0, description="CPU cores one conversation's server may use.")
    cpu_guarantee: float | None = Field(None, gt=0, description="CPU cores reserved for one server (cluster only).")
    mem_limit: str | None = Field("2G", description="Memory one conversation's server may use (K/M/G/T).")
    mem_guarantee: str | None = Field(None, description="Memory reserved for one server (cluster only).")
    notebook_name: str = Field(
        "{conversation}.ipynb",
        description="Notebook each execution is appended to; '{conversation}' is the conversation id. Change it "
        "to keep jhubctl's notebook apart from another client's (the guide's client writes {conversation}.ipynb).",
    )
    max_file_bytes: int = Field(100 * 1024 * 1024, gt=0, description="Largest file `files put/get` and the "
                                "assistant tools move, in bytes.")
    iopub_data_rate_limit: float = Field(
        1_000_000, ge=0, description="Bytes/s of output a server relays before dropping it (0 = no limit)."
    )
    iopub_msg_rate_limit: float = Field(
        1000, ge=0, description="Output messages/s a server relays before dropping them (0 = no limit)."
    )
    cell_output_limit: int = Field(
        5_000_000, ge=0, description="Bytes of output one notebook cell keeps; the rest is cut, with a note (0 = all)."
    )

    @field_validator("mem_limit", "mem_guarantee")
    @classmethod
    def _bytes(cls, v: str | None) -> str | None:
        if v is not None:
            byte_count(v)
        return v

    @model_validator(mode="after")
    def _guarantees(self) -> ServersConfig:
        if self.cpu_limit and self.cpu_guarantee and self.cpu_guarantee > self.cpu_limit:
            raise ValueError(f"cpu_guarantee {self.cpu_guarantee:g} is above cpu_limit {self.cpu_limit:g}")
        if self.mem_limit and self.mem_guarantee and byte_count(self.mem_guarantee) > byte_count(self.mem_limit):
            raise ValueError(f"mem_guarantee {self.mem_guarantee} is above mem_limit {self.mem_limit}")
        return self

    @field_validator("notebook_name")
    @classmethod
    def _notebook_name(cls, v: str) -> str:
        try:
            name = v.format(conversation="c")
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"{v!r} may use only the placeholder '{{conversation}}'") from None
        if "/" in v or "\\" in v or name.startswith(".") or not name.endswith(".ipynb"):
            raise ValueError(f"{v!r} must be a file name ending in .ipynb, not hidden, without folders")
        return v

    def server_args(self) -> list[str]:
        """jupyter-server options every user server gets, on every target (the rate limits are its own)."""
        return [
            f"--ZMQChannelsWebsocketConnection.iopub_data_rate_limit={self.iopub_data_rate_limit!r}",
            f"--ZMQChannelsWebsocketConnection.iopub_msg_rate_limit={self.iopub_msg_rate_limit!r}",
        ]


class LocalConfig(Section):
    host: str = Field("127.0.0.1", description="Address the local hub listens on.")
    port: int = Field(0, ge=0, le=65535, description="Public port of the local hub (0 = a free port).")
    data_dir: Path | None = Field(None, description="Root of conversation folders (default: <state dir>/local/data).")
    proxy_command: str | None = Field(
        None, description="configurable-http-proxy to run (default: jhubctl's patch of the Python one)."
    )
    start_timeout: float = Field(60, gt=0)
    interpreter: Literal["locked", "shared"] = Field(
        "locked", description="locked: servers run in a venv built from the interpreter lock; shared: in jhubctl's own."
    )
    fence: bool = Field(True, description="Confine each server to its conversation folder (Landlock, a user of its own).")


#: The seed's singleuser packages, with pypdf for the abandoned PyPDF2, and the kernel itself.
DEFAULT_REQUIREMENTS = (
    "numpy", "pandas", "matplotlib", "openpyxl", "pypdf", "scipy", "seaborn", "faker", "scikit-learn", "ipykernel",
)


class InterpreterConfig(Section):
    """The code interpreter's package set: one lock feeds the singleuser image and the local servers."""

    requirements: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REQUIREMENTS), description="Packages the kernels can import (PEP 508)."
    )
    python: str = Field("3.11", description="Python version the lock is resolved for and the environment runs.")
    lock_file: Path | None = Field(
        None, description="A lock kept with the config (relative to its folder); default <state>/interpreter/."
    )
    exclude_newer: str | None = Field(
        None, description="Resolve only with releases up to this date (YYYY-MM-DD or RFC 3339): the same lock on any day."
    )
    uv_path: str | None = Field(None, description="The uv executable (default: the one installed with jhubctl).")
    base_image: str | None = Field(
        None, description="Image the singleuser image is built FROM (default: jhubctl's pinned python:<python>-slim)."
    )

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("needs at least one package (the kernel needs ipykernel)")
        for entry in v:
            if not _REQUIREMENT.fullmatch(entry.strip()):
                raise ValueError(
                    f"{entry!r} is not a package requirement such as 'pandas' or 'pandas>=2,<3' "
                    "(options and files are not accepted here)"
                )
        return [entry.strip() for entry in v]

    @field_validator("python")
    @classmethod
    def _python(cls, v: str) -> str:
        if not re.fullmatch(r"3\.\d{1,2}", v):
            raise ValueError(f"{v!r} must be a Python minor version such as 3.11")
        return v

    @field_validator("exclude_newer")
    @classmethod
    def _date(cls, v: str | None) -> str | None:
        from datetime import date, datetime

        if v is None:
            return v
        try:
            date.fromisoformat(v) if len(v) == 10 else datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{v!r} must be a date such as 2025-06-30 or an RFC 3339 time") from None
        return v


#: A PEP 508 requirement line: a name, optional extras, version specifiers and markers, never a pip option.
_REQUIREMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._, -]+\])?\s*(?:[(<>=!~;@][^\n\r]*)?")


class Config(Section):
    target: Literal["local", "kubernetes", "azure"] = Field(
        "local", description="local: a hub on this machine; kubernetes: an existing cluster; azure: everything."
    )
    name: str = Field("jhub", description="Environment name, written as the jhubctl-env tag on every resource.")
    azure: AzureConfig = Field(default_factory=AzureConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    aks: AksConfig = Field(default_factory=AksConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    hub: HubConfig = Field(default_factory=HubConfig)
    servers: ServersConfig = Field(default_factory=ServersConfig)
    interpreter: InterpreterConfig = Field(default_factory=InterpreterConfig)
    local: LocalConfig = Field(default_factory=LocalConfig)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _DNS_LABEL.fullmatch(v):
            raise ValueError(f"{v!r} must be lowercase letters, digits and '-' (a DNS label)")
        return v

    @model_validator(mode="after")
    def _cross(self) -> Config:
        vnet = _network(self.network.vnet_cidr, "")
        if vnet.overlaps(_network(self.aks.service_cidr, "")):
            # Azure accepts that while no subnet uses the range, then breaks once one does.
            raise ValueError(
                f"aks.service_cidr {self.aks.service_cidr} overlaps network.vnet_cidr {vnet}; pick a range outside "
                "the VNet (and its peers), such as 172.16.0.0/16"
            )
        return self

    def digest(self, *sections: str) -> str:
        """A stable hash of (some sections of) the config, so the journal can tell a step ran with other input."""
        data = self.model_dump(mode="json")
        if sections:
            data = {name: data[name] for name in sections}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _format_error(err: Any, source: str) -> str:  # pydantic ErrorDetails
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        parent, _, key = loc.rpartition(".")
        model: type[BaseModel] = Config
        for part in parent.split(".") if parent else []:
            model = model.model_fields[part].annotation  # type: ignore[assignment]
        close = difflib.get_close_matches(key, list(model.model_fields), n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(model.model_fields)}"
        return f"{source}: unknown key '{loc}': {fix}"
    value = err.get("input")
    # Our own validators already quote the value; pydantic's built-in messages do not.
    own = err["type"] in {"value_error", "missing"} or isinstance(value, dict)
    shown = "" if own else f" (got {value!r})"
    where = f"'{loc}'" if loc else "the file"
    return f"{source}: {where}: {msg}{shown}"


def parse_config(data: Any, source: str = "config") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        raise ConfigError(_format_error(errors[0], source), hint=_more(len(errors) - 1)) from None


def _more(n: int) -> str | None:
    return f"{n} more problem{'s' if n > 1 else ''} in the same file; fix this one and run again" if n else None

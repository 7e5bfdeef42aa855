"""Azure checks (JH2xx), target azure only: what provision built, as ARM sees it now.

Reads only (GETs, a role-assignment list, one call to the IP echo service); each resource is read once
and shared. What provision recorded in the journal says which resources to read; the config derives
the rest.
"""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..errors import JhubctlError
from .finding import Outcome, Skip, fail, ok, warn
from .fixes import fix, only
from .runner import Facts, checker, gate

if TYPE_CHECKING:
    from ..azure.arm import Arm
    from ..azure.desired import Ids

check = checker("azure")

#: Journal step -> output keys holding ARM ids provision created.
RECORDED = {"registry": ("id",), "network": ("vnet_id", "subnet_id", "nsg_id"), "storage": ("id",), "aks": ("id",)}
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
PORTS = (80, 443)


# -- facts -----------------------------------------------------------------------------------------------------
def subscription(f: Facts) -> str:
    if f.config.target != "azure":
        raise Skip(f"target {f.config.target}: jhubctl made no Azure resources")
    if not f.config.azure.subscription_id:
        raise Skip("azure.subscription_id is not set (JH101)")
    return f.config.azure.subscription_id


def _connect(f: Facts) -> Arm:
    from ..azure.arm import Arm
    from ..azure.credentials import arm_credential
    from ..azure.provision import preflight

    azure = f.config.azure
    arm = Arm(azure.arm_endpoint, subscription(f), arm_credential(azure.arm_endpoint, azure.tenant_id, f.loaded.environ))
    preflight(arm, subscription(f))
    f.closing(arm.resources.close)
    return arm


def connected(f: Facts) -> Arm:
    return f.once("arm", lambda: _connect(f))


def arm(f: Facts) -> Arm:
    """ARM, once the credential and subscription have answered; else the check is skipped naming JH201."""
    subscription(f)
    return gate("Azure did not answer with the credential (JH201)", lambda: connected(f))


def ids(f: Facts) -> Ids:
    from ..azure.desired import Ids

    return Ids(f.config, subscription(f))


def resource(f: Facts, rid: str) -> dict[str, Any] | None:
    return f.once(f"arm {rid.lower()}", lambda: arm(f).get(rid))


def recorded(f: Facts) -> dict[str, str]:
    """ARM ids the journal's provision steps recorded: {id: step}."""
    from ..state import Journal

    steps = Journal(f.loaded.state_dir).steps()
    found: dict[str, str] = {}
    for step, keys in RECORDED.items():
        record = steps.get(step)
        if record is not None and record.status == "succeeded":
            found.update({str(record.outputs[k]): step for k in keys if record.outputs.get(k)})
    assignments = steps.get("role-assignments")
    if assignments is not None and assignments.status == "succeeded":
        found.update({str(rid): "role-assignments" for rid in (assignments.outputs.get("assignments") or {}).values()})
    return found


def state(body: dict[str, Any] | None) -> str:
    if body is None:
        return "missing"
    return str((body.get("properties") or {}).get("provisioningState") or "Succeeded")


def short(rid: str) -> str:
    from ..azure.desired import short_id

    return short_id(rid)


# -- checks ----------------------------------------------------------------------------------------------------
def _who(f: Facts) -> list[str]:
    """Which credential, as much as can be said without showing it."""
    from ..azure.credentials import TOKEN_ENV, claims

    token = f.loaded.environ.get(TOKEN_ENV)
    if not token:
        return ["credential: DefaultAzureCredential (az login, managed identity, environment)"]
    said = claims(token)
    who = said.get("upn") or said.get("appid") or said.get("oid") or "an opaque token"
    return [f"credential: {TOKEN_ENV} ({who}, tenant {said.get('tid', '?')})"]


@check("JH201", "the Azure credential works and sees the configured subscription")
def credential(f: Facts) -> Outcome:
    sub = subscription(f)
    evidence = [f"endpoint: {f.config.azure.arm_endpoint}", f"subscription: {sub}", *_who(f)]
    try:
        connected(f)
    except JhubctlError as exc:
        if "SubscriptionNotFound" in exc.message:
            return fail(f"the credential does not see subscription {sub}", [*evidence, exc.message],
                        fix("az-subscriptions"))
        tenant = f" --tenant {f.config.azure.tenant_id}" if f.config.azure.tenant_id else ""
        return fail(f"Azure refused or could not be reached: {exc.message}", evidence, fix("az-login", tenant=tenant))
    others = sorted({rid.split("/")[2] for rid in recorded(f) if rid.lower().startswith("/subscriptions/")
                     and rid.split("/")[2].lower() != sub.lower()})
    if others:
        return fail(f"the journal's resources are in subscription {others[0]}, the config says {sub}",
                    [*evidence, *(f"recorded: {rid}" for rid in recorded(f))],
                    fix("config-edit", key="azure.subscription_id", file=str(f.loaded.path or "jhubctl.yaml")))
    return ok(f"the credential reads subscription {sub}", evidence)


@check("JH202", "the resource providers jhubctl needs are registered")
def providers(f: Facts) -> Outcome:
    from ..azure.arm import PROVIDERS

    missing = arm(f).unregistered(PROVIDERS)
    evidence = [f"{ns}: {'NotRegistered' if ns in missing else 'Registered'}" for ns in PROVIDERS]
    if missing:
        return fail(f"{', '.join(missing)} not registered: creating those resources fails", evidence,
                    fix("provision-only", only=only("providers")))
    return ok(f"{len(PROVIDERS)} providers registered", evidence)


@check("JH203", "every resource provision recorded still exists and Succeeded")
def resources(f: Facts) -> Outcome:
    subscription(f)
    found = recorded(f)
    if not found:
        raise Skip("provision recorded no resource here yet")
    with ThreadPoolExecutor(max_workers=6) as pool:
        states = dict(zip(found, pool.map(lambda rid: state(resource(f, rid)), found), strict=True))
    bad = {rid: s for rid, s in states.items() if s != "Succeeded"}
    evidence = [f"{short(rid)}: {s} (journal: {found[rid]})" for rid, s in sorted(states.items(), key=lambda i: i[1])]
    if bad:
        steps = sorted({found[rid] for rid in bad})
        return fail(f"{len(bad)} of {len(states)} recorded resources are missing or not Succeeded", evidence,
                    fix("provision-only", only=only(*steps)))
    return ok(f"{len(states)} recorded resources exist and Succeeded", evidence)


@check("JH204", "the AKS cluster is running")
def cluster_running(f: Facts) -> Outcome:
    rid = ids(f).cluster
    body = resource(f, rid)
    group, name = f.config.azure.resource_group, f.config.aks.cluster_name
    if body is None:
        return fail(f"there is no cluster {name} in {group}", [f"{short(rid)}: missing"], fix("provision-only", only=only("aks")))
    props = body.get("properties") or {}
    power = (props.get("powerState") or {}).get("code", "?")
    evidence = [f"{short(rid)}: provisioningState {state(body)}, powerState {power}, Kubernetes "
                f"{props.get('kubernetesVersion', '?')}", *(f"node pool {p.get('name')}: {p.get('count')} x {p.get('vmSize')}, "
                                                           f"powerState {(p.get('powerState') or {}).get('code', '?')}"
                                                           for p in props.get("agentPoolProfiles") or [])]
    if power == "Stopped":
        return fail(f"cluster {name} is stopped: nothing runs until it is started", evidence,
                    fix("aks-start", group=group, cluster=name))
    if state(body) != "Succeeded":
        return fail(f"cluster {name} is {state(body)}", evidence, fix("provision-only", only=only("aks")))
    return ok(f"cluster {name} is running", evidence)


def _ports(props: dict[str, Any]) -> list[tuple[int, int]]:
    ranges = list(props.get("destinationPortRanges") or []) + ([props["destinationPortRange"]]
                                                                if props.get("destinationPortRange") else [])
    out = []
    for text in ranges:
        if text == "*":
            out.append((0, 65535))
        else:
            low, _, high = str(text).partition("-")
            out.append((int(low), int(high or low)))
    return out


def _sources(props: dict[str, Any]) -> list[str]:
    from ..azure.desired import rule_sources

    return rule_sources(props)


def _admits(source: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if source in ("*", "Internet", "Any"):
        return True
    try:
        return ip in ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False  # a service tag (VirtualNetwork, AzureLoadBalancer): not an operator's address


def verdict(rules: list[dict[str, Any]], ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> dict[str, Any] | None:
    """The inbound rule that decides `ip` to TCP `port`: the matching one of lowest priority number."""
    inbound = [r for r in rules if (r.get("properties") or {}).get("direction") == "Inbound"]
    for rule in sorted(inbound, key=lambda r: int((r.get("properties") or {}).get("priority", 65000))):
        props = rule.get("properties") or {}
        if str(props.get("protocol", "*")).lower() not in ("tcp", "*"):
            continue
        if any(low <= port <= high for low, high in _ports(props)) and any(_admits(s, ip) for s in _sources(props)):
            return rule
    return None


@check("JH205", "the NSG admits this machine's public IP on 80 and 443")
def nsg_admits(f: Facts) -> Outcome:
    from ..azure.provision import echo_ip

    rid = ids(f).nsg
    body = resource(f, rid)
    if body is None:
        return fail(f"there is no network security group {short(rid)}", [f"{short(rid)}: missing"],
                    fix("provision-only", only=only("network")))
    try:
        ip = ipaddress.ip_address(echo_ip(f.loaded))
    except JhubctlError as exc:
        raise Skip(f"cannot learn this machine's public IP: {exc.message}") from None
    rules = (body.get("properties") or {}).get("securityRules") or []
    evidence = [f"this machine: {ip} (from {f.config.network.ip_echo_url})"]
    closed = []
    for port in PORTS:
        rule = verdict(rules, ip, port)
        props = (rule or {}).get("properties") or {}
        if rule is None:
            evidence.append(f"port {port}: no rule admits it (the NSG's default DenyAllInBound applies)")
            closed.append(port)
        else:
            evidence.append(f"port {port}: rule {rule.get('name')} (priority {props.get('priority')}, "
                            f"{props.get('access')}, from {', '.join(_sources(props))})")
            if props.get("access") != "Allow":
                closed.append(port)
    if closed:
        explicit = f.config.network.allowed_source_ips != "auto"
        remedy = (fix("allow-ip", ip=f"{ip}/32", file=str(f.loaded.path or "jhubctl.yaml")) if explicit
                  else fix("provision-only", only=only("network")))
        return fail(f"the hub is closed to {ip} on port {' and '.join(map(str, closed))}", evidence, remedy)
    return ok(f"{ip} reaches the hub on 80 and 443", evidence)


@check("JH206", "the storage account admits the AKS subnet, which has the Microsoft.Storage endpoint")
def storage_admits_subnet(f: Facts) -> Outcome:
    names = ids(f)
    account, subnet = resource(f, names.storage), resource(f, names.subnet)
    if account is None or subnet is None:
        missing = [short(rid) for rid, body in ((names.storage, account), (names.subnet, subnet)) if body is None]
        return fail(f"{' and '.join(missing)} missing", [f"{m}: missing" for m in missing], fix("provision"))
    acls = (account.get("properties") or {}).get("networkAcls") or {}
    rules = [str(r.get("id", "")).lower() for r in acls.get("virtualNetworkRules") or [] if r.get("action", "Allow") == "Allow"]
    endpoints = [e.get("service") for e in (subnet.get("properties") or {}).get("serviceEndpoints") or []]
    evidence = [f"{short(names.storage)}: defaultAction {acls.get('defaultAction')}, virtual network rules: "
                + (", ".join(short(r) for r in rules) or "none"),
                f"{short(names.subnet)}: service endpoints: {', '.join(map(str, endpoints)) or 'none'}"]
    problems = []
    if acls.get("defaultAction") == "Deny" and names.subnet.lower() not in rules:
        problems.append("the account's firewall does not admit the AKS subnet")
    if "Microsoft.Storage" not in endpoints:
        problems.append("the subnet lacks the Microsoft.Storage service endpoint")
    if problems:
        return fail("; ".join(problems) + ": NFS mounts hang", evidence, fix("provision-only", only=only("network", "storage")))
    return ok("the AKS subnet reaches the storage account", evidence)


@check("JH207", "the nodes can pull from the registry (AcrPull, or the pull secret)")
def image_pull_access(f: Facts) -> Outcome:
    subscription(f)
    if f.config.aks.identity == "service-principal":
        return _pull_secret(f)
    names = ids(f)
    cluster = resource(f, names.cluster)
    kubelet = (((cluster or {}).get("properties") or {}).get("identityProfile") or {}).get("kubeletidentity") or {}
    principal = kubelet.get("objectId")
    if not principal:
        raise Skip("the cluster reports no kubelet identity yet (JH204)")
    held = arm(f).role_assignments(names.registry, principal)
    scope = names.registry.lower()
    pull = [a for a in held if str((a.get("properties") or {}).get("roleDefinitionId", "")).lower().endswith(ACR_PULL)
            and scope.startswith(str((a.get("properties") or {}).get("scope", "")).lower())]
    evidence = [f"kubelet identity: {principal}",
                f"its roles on {short(names.registry)} (or above): "
                + (", ".join(str(a.get("properties", {}).get("roleDefinitionId", "")).rsplit("/", 1)[-1] for a in held)
                   or "none")]
    if not pull:
        return fail("the kubelet identity lacks AcrPull on the registry: every image pull is refused (401)", evidence,
                    fix("provision-only", only=only("role-assignments")))
    return ok("the kubelet identity holds AcrPull on the registry", evidence)


def _pull_secret(f: Facts) -> Outcome:
    """Service-principal mode: the pull secret exists in the release namespace and the registry takes it."""
    from ..chart import pullsecret
    from ..image.build import registry_server
    from ..image.registry import Basic, Registry, RegistryError, trust
    from . import cluster

    ns, server = cluster.namespace(f), registry_server(f.loaded)
    secret = cluster.api(f).get("Secret", pullsecret.NAME, ns)
    if secret is None:
        return fail(f"there is no pull secret {ns}/{pullsecret.NAME}: the nodes cannot pull from {server}",
                    [f"secret {ns}/{pullsecret.NAME}: not found"], fix("deploy-hub"))
    user, password = pullsecret.login(secret, server)
    f.secret(password)
    evidence = [f"secret {ns}/{pullsecret.NAME}: {secret.get('type')}, user {user or '(none for ' + server + ')'}"]
    if not user or not password:
        return fail(f"the pull secret holds no login for {server}", evidence,
                    fix("pull-secret-renew", namespace=ns, secret=pullsecret.NAME))
    image = cluster.hub_image(f) or f"{server}/{f.config.registry.hub_image_name}:{f.config.hub.chart_version}"
    client = Registry({server: Basic(user, password)}, verify=trust())
    try:
        client.platforms(image)
    except RegistryError as exc:
        if exc.status in (401, 403):
            evidence.append(exc.message)
            return fail(f"{server} refuses the pull secret's login: the password expired or was removed", evidence,
                        fix("pull-secret-renew", namespace=ns, secret=pullsecret.NAME))
        evidence.append(f"could not try it on {image}: {exc.message}")
        return warn("the pull secret exists, but its login could not be tried", evidence)
    finally:
        client.close()
    evidence.append(f"{server} gave a pull token for {image}")
    return ok(f"the pull secret logs in to {server}", evidence)

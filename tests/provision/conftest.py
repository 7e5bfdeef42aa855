"""Fixtures for `jhubctl provision` / `destroy` end to end: the real CLI, the real Azure SDK, a fake ARM.

* ``azure_env`` is one working directory with a ``jhubctl.yaml`` (``target: azure``) pointing at a started
  :class:`~tests.fakes.arm.FakeArm` through ``JHUBCTL_ARM_ENDPOINT``, with a static token in
  ``JHUBCTL_AZURE_ACCESS_TOKEN``; ``make_env(...)`` makes more (other fake settings, other folders).
* Every environment also gets a :class:`~tests.fakes.kube.server.FakeKube` holding AKS's
  ``blob.csi.azure.com`` CSIDriver (:func:`~tests.fakes.kube.objects.aks_blob_csidriver`), the fake ARM
  hands out its kubeconfig from ``listClusterUserCredential``, and provision runs the whole step graph.
* ``snapshot(fake)`` is the fake's end state minus what differs between two clean runs (generated
  principals, timestamps, fqdn suffixes), so "converges to the same end state" is one ``==``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.arm import FakeArm
from tests.fakes.arm.fixtures import fake_arm, fake_arm_factory  # noqa: F401
from tests.fakes.graph import FakeGraph
from tests.fakes.graph.fixtures import fake_graph_factory  # noqa: F401
from tests.fakes.base.fixtures import allow_localhost, stop_all
from tests.fakes.base.tokens import ARM_AUDIENCE, GRAPH_AUDIENCE, jwt
from tests.fakes.kube import FakeKube
from tests.fakes.kube.objects import aks_blob_csidriver

from jhubctl.azure.desired import Ids
from jhubctl.config import load_config

_FIXED = {"iat": 1700000000, "nbf": 1700000000, "exp": 4102444800, "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
#: The access tokens jhubctl gets from the environment (ARM's, and Graph's for service-principal mode); they
#: must never show up anywhere but their own service's Authorization header.
#: Constant: test modules import this file as `tests.provision.conftest`, a second module object.
TOKEN = jwt(ARM_AUDIENCE, signature="5f0c7e1d9a2b4c6e8f1a3b5c7d9e0f2a", oid="3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            **_FIXED)
GRAPH_TOKEN = jwt(GRAPH_AUDIENCE, signature="9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b", oid="3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                  **_FIXED)
SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
NAME = "demo"
GROUP = "jhub-rg"
ACR = "jhubacr1"
STORAGE = "jhubstore1"
CLUSTER = "jhub-aks"
#: The operator's addresses: a single host (a /32 in the NSG, a bare IP in the storage rules) and a range.
SOURCE_IPS = ["203.0.113.7", "198.51.100.0/24"]
NORMALISED_SOURCES = ["203.0.113.7/32", "198.51.100.0/24"]

def base_config(subscription_id: str) -> dict[str, Any]:
    return {
        "target": "azure",
        "name": NAME,
        "azure": {"subscription_id": subscription_id, "location": "eastus", "resource_group": GROUP},
        "network": {"allowed_source_ips": list(SOURCE_IPS)},
        "storage": {"account_name": STORAGE},
        "registry": {"name": ACR},
        "aks": {"cluster_name": CLUSTER},
    }


def deep_update(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` laid over `base`; a value of None removes the key."""
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


class CliResult(tuple):
    """(code, stdout, stderr), like the `cli` fixture's result."""

    code = property(lambda self: self[0])
    stdout = property(lambda self: self[1])
    stderr = property(lambda self: self[2])


def run_cli(*argv: str) -> CliResult:
    """`jhubctl argv...` in-process, capturing stdout/stderr without pytest's per-test capsys."""
    from jhubctl.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return CliResult((int(code), out.getvalue(), err.getvalue()))


def make_rsa_key(directory: Path, bits: int = 2048) -> Path:
    """An OpenSSH RSA key pair (what AKS accepts); returns the public key's path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    (directory / "id_rsa").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    )
    public = directory / "id_rsa.pub"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
    return public


def start_kube(ca_dir: Path, **kwargs: Any) -> FakeKube:
    kube = FakeKube(ca_dir=ca_dir, **kwargs).start()
    kube.seed(aks_blob_csidriver())
    return kube


@dataclass
class AzureEnv:
    """One operator folder: jhubctl.yaml + .jhubctl/, against one fake ARM (and fake Kubernetes API)."""

    fake: FakeArm
    root: Path
    config: dict[str, Any]
    chdir: Callable[[Path], None]
    setenv: Callable[[str, str], None]
    kube: Any = None
    #: The fake Microsoft Graph of a service-principal environment (``make_env(..., graph=True)``).
    graph: FakeGraph | None = None
    #: Environment for this folder's runs (JHUBCTL_ARM_ENDPOINT is this env's fake), set before each run.
    extra_env: dict[str, str] = field(default_factory=dict)

    # -- config and paths --------------------------------------------------------------------------
    def write_config(self, changes: dict[str, Any] | None = None) -> Path:
        if changes:
            deep_update(self.config, changes)
        path = self.root / "jhubctl.yaml"
        path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        return path

    @property
    def state_dir(self) -> Path:
        return self.root / ".jhubctl"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def journal(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())["steps"]

    def loaded(self) -> Any:
        return load_config(self.root / "jhubctl.yaml", environ={})

    @property
    def ids(self) -> Ids:
        return Ids(self.loaded().config, self.fake.subscription_id)

    # -- running the CLI -----------------------------------------------------------------------------
    def run(self, *argv: str) -> CliResult:
        self.chdir(self.root)
        endpoints = {"JHUBCTL_ARM_ENDPOINT": self.fake.url}
        if self.graph is not None:
            endpoints.update(JHUBCTL_GRAPH_ENDPOINT=self.graph.url, JHUBCTL_GRAPH_ACCESS_TOKEN=GRAPH_TOKEN)
        for key, value in {**endpoints, **self.extra_env}.items():
            self.setenv(key, value)
        return run_cli(*argv)

    def provision(self, *extra: str) -> CliResult:
        return self.run("provision", "--yes", *extra)

    def provision_ok(self, *extra: str) -> CliResult:
        result = self.provision(*extra)
        assert result.code == 0, f"provision failed ({result.code}):\n{result.stderr[-3000:]}"
        return result

    def writes(self, since: int = 0) -> list[Any]:
        """Write requests (faulted ones included: a write the server refused was still attempted)."""
        return [r for r in self.fake.requests.snapshot()[since:] if r.is_write]

    def kube_writes(self, since: int = 0) -> list[Any]:
        return [] if self.kube is None else [r for r in self.kube.requests.snapshot()[since:] if r.is_write]


@pytest.fixture(scope="session")
def shared_ssh_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One RSA key for the tests that do not test the ssh-key step (a 4096-bit keygen costs ~0.4 s)."""
    return make_rsa_key(tmp_path_factory.mktemp("ssh"))


@pytest.fixture
def make_env(
    fake_arm_factory: Callable[..., FakeArm], fake_graph_factory: Callable[..., FakeGraph], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, shared_ssh_key: Path
) -> Iterator[Callable[..., AzureEnv]]:
    """`make_env(name, ssh="shared"|"generate", kube=True, graph=False, config={...}, kube_kwargs={...},
    **FakeArm kwargs)`.

    `kube=False`: the fake ARM hands out its default kubeconfig, whose server does not exist, so such an
    environment must not run the csi-driver step. `graph=True`: service-principal mode against a fake Graph
    whose directory the fake ARM learns from (what AKS can see); make it the test's last environment (the
    ARM fixture rewrites the CA bundle on each start).
    """
    kubes: list[Any] = []
    monkeypatch.setenv("JHUBCTL_AZURE_ACCESS_TOKEN", TOKEN)
    allow_localhost(monkeypatch)

    def make(name: str = "env", *, ssh: str = "shared", kube: bool = True, graph: bool = False,
             config: dict[str, Any] | None = None, kube_kwargs: dict[str, Any] | None = None,
             **fake_kwargs: Any) -> AzureEnv:
        root = tmp_path / name
        root.mkdir()
        kube_fake = None
        if kube:
            kube_fake = start_kube(root.parent / f"{name}-kube-ca", **(kube_kwargs or {}))
            kubes.append(kube_fake)
            fake_kwargs.setdefault("kubeconfig", kube_fake.kubeconfig_text(CLUSTER))
        fake_kwargs.setdefault("subscription_id", SUBSCRIPTION)
        fake = fake_arm_factory(**fake_kwargs)
        env = AzureEnv(fake, root, base_config(fake.subscription_id), monkeypatch.chdir, monkeypatch.setenv, kube_fake)
        if graph:
            env.graph = fake_graph_factory()
            env.graph.directory.listeners.append(fake.resources.learn)
            env.config["aks"]["identity"] = "service-principal"
        if ssh == "shared":
            env.config["aks"]["ssh_public_key_path"] = str(shared_ssh_key)
        env.write_config(config)
        return env

    yield make
    stop_all(kubes, "the fake Kubernetes API")


@pytest.fixture
def azure_env(make_env: Callable[..., AzureEnv]) -> AzureEnv:
    return make_env("main")


# -- comparing end states ------------------------------------------------------------------------------

#: Values that differ between two clean runs: generated identities, timestamps, server-made suffixes.
VOLATILE_KEYS = frozenset({"principalId", "tenantId", "objectId", "clientId", "createdOn", "creationDate", "etag",
                           "fqdn", "resourceId"})
ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def snapshot(fake: FakeArm) -> dict[str, Any]:
    """Every resource in the fake, keyed by lowercased id, minus volatile fields.

    Role assignments are named after their principal, which a new fake generates anew: they are keyed by
    scope and role instead (their count per principal/role/scope is checked by `role_assignment_counts`).
    """
    out: dict[str, Any] = {}
    for rid in fake.resources.ids():
        body = fake.resources.get(rid)
        assert body is not None
        if body.get("type") == ROLE_ASSIGNMENT_TYPE:
            props = body["properties"]
            key = f"role-assignment {props['scope'].lower()} {props['roleDefinitionId'].rsplit('/', 1)[-1]}"
            body = {k: v for k, v in body.items() if k not in ("id", "name")}
        else:
            key = rid.lower()
        assert key not in out, f"two resources share {key}"
        out[key] = _strip(body)
    return out


def role_assignment_counts(fake: FakeArm) -> Counter[tuple[str, str, str]]:
    return Counter(
        (ra["properties"]["principalId"].lower(), ra["properties"]["roleDefinitionId"].rsplit("/", 1)[-1],
         ra["properties"]["scope"].lower())
        for ra in fake.resources.role_assignments()
    )


def assert_converged(fake: FakeArm, reference: dict[str, Any]) -> None:
    """Same resources (none missing, none extra), same bodies, each role assignment exactly once."""
    got = snapshot(fake)
    assert sorted(got) == sorted(reference), "resources differ from a clean run's"
    for key in reference:
        assert got[key] == reference[key], f"{key} differs from a clean run's"
    counts = role_assignment_counts(fake)
    assert counts and all(n == 1 for n in counts.values()), counts
    assert len(counts) == 2, f"expected the two role assignments of managed-identity mode, got {counts}"


def assert_one_line_error(stderr: str) -> str:
    """stderr is `error: ...` and at most one `hint: ...`: no traceback, no multi-line SDK dump."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), stderr
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint: ")), f"not one line:\n{stderr}"
    return lines[0]


def only_source(rule: dict[str, Any]) -> str:
    """The one source prefix of an NSG rule, as Azure stores a single prefix: in the singular field, with an
    empty list beside it."""
    props = rule["properties"]
    assert props.get("sourceAddressPrefixes") == [], props
    return str(props["sourceAddressPrefix"])


def json_steps(stdout: str) -> dict[str, dict[str, Any]]:
    doc = json.loads(stdout)
    return {s["step"]: s for s in doc["steps"]}


def paths(records: list[Any]) -> list[tuple[str, str]]:
    return [(r.method, r.path.lower()) for r in records]


# -- the IP echo service for `allowed_source_ips: auto` ------------------------------------------------------


@dataclass
class IpEcho:
    url: str
    answer: str
    hits: int = 0


@pytest.fixture
def ip_echo() -> Iterator[IpEcho]:
    """A local stand-in for https://ifconfig.me/ip: answers `echo.answer` to any GET."""
    state = IpEcho("", "198.51.100.23\n")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            state.hits += 1
            body = state.answer.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/ip"
    yield state
    server.shutdown()
    server.server_close()


def find(doc: Any, path: str) -> Any:
    """`properties.securityRules[properties.destinationPortRange=443].properties.priority` → the value.

    `[key=value]` picks the one list item whose (dotted) key equals value (case-insensitive), `[n]` the nth.
    Returns ABSENT when a key is missing.
    """
    for part in re.findall(r"\[[^\]]*\]|[^.\[\]]+", path):
        if part.startswith("["):
            selector = part[1:-1]
            if "=" in selector:
                key, value = selector.split("=", 1)
                assert isinstance(doc, list), f"{part}: not a list: {doc!r}"
                matches = [item for item in doc if str(find(item, key)).lower() == value.lower()]
                assert len(matches) == 1, f"{part}: {len(matches)} matches in {doc!r}"
                doc = matches[0]
            else:
                doc = doc[int(selector)]
        else:
            if not isinstance(doc, dict) or part not in doc:
                return ABSENT
            doc = doc[part]
    return doc


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()

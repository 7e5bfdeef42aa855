"""KubeConversationSpawner on real KubeSpawner 6.1.0 objects, without a cluster.

KubeSpawner's constructor loads a kube config and makes a shared API client; both are replaced by
a recorder that logs every Kubernetes API call, so a test can assert that none was made.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import kubespawner.spawner as kubespawner_module
import pytest
from kubernetes_asyncio.client import ApiClient
from kubespawner.spawner import MockObject
from traitlets.config import Config

from jhubctl.spawner.kube import ConversationMountError, KubeConversationSpawner
from jhubctl.spawner.naming import InvalidName

UUID = "550e8400-e29b-41d4-a716-446655440000"
CLAIM = "azure-blob-nfs-pvc"
VOLUME = "conversation-data"
MOUNT = "/home/jovyan/work"
LABEL_VALUE = re.compile(r"^(([a-z0-9][-a-z0-9_.]*)?[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class PodCreated(Exception):
    """Raised by the fake API instead of creating a pod: the spawn stops there."""


class ApiRecorder:
    """Stands in for kubernetes_asyncio's CoreV1Api: records every call by name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))
            if name == "create_namespaced_pod":
                raise PodCreated()

        return call

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> ApiRecorder:
    recorder = ApiRecorder()
    monkeypatch.setattr(kubespawner_module, "load_config", lambda *a, **k: None)
    monkeypatch.setattr(kubespawner_module, "shared_client", lambda *a, **k: recorder)
    return recorder


def _user(name: str = "alice") -> MockObject:
    user = MockObject()
    user.name = name
    user.id = 7
    user.url = f"/user/{name}/"
    return user


def _orm_spawner(name: str) -> MockObject:
    """Spawner.name is a property reading orm_spawner.name: a `name=` keyword would be ignored."""
    orm_spawner = MockObject()
    orm_spawner.name = name
    orm_spawner.server = None
    return orm_spawner


@pytest.fixture
def make_spawner(api: ApiRecorder) -> Iterator[Callable[..., KubeConversationSpawner]]:
    def make(
        *, user: str = "alice", name: str = "", user_options: dict | None = None, config: Config | None = None
    ) -> KubeConversationSpawner:
        return KubeConversationSpawner(
            _mock=True,
            user=_user(user),
            orm_spawner=_orm_spawner(name),
            user_options=user_options if user_options is not None else {},
            config=config or Config(),
        )

    yield make


def manifest(spawner: KubeConversationSpawner) -> dict[str, Any]:
    """The pod as it would go over the wire (camelCase keys, None dropped)."""

    async def build() -> dict[str, Any]:
        pod = await spawner.get_pod_manifest()
        async with ApiClient() as client:
            return client.sanitize_for_serialization(pod)

    return asyncio.run(build())


def shared_volumes(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in pod["spec"].get("volumes", []) if v.get("persistentVolumeClaim", {}).get("claimName") == CLAIM]


def all_mounts(pod: dict[str, Any], volume: str) -> list[tuple[str, dict[str, Any]]]:
    containers = pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
    return [(c["name"], m) for c in containers for m in c.get("volumeMounts", []) if m["name"] == volume]


def assert_one_conversation_mount(pod: dict[str, Any], subpath: str) -> None:
    volumes = shared_volumes(pod)
    assert volumes == [{"name": VOLUME, "persistentVolumeClaim": {"claimName": CLAIM}}]
    mounts = all_mounts(pod, VOLUME)
    assert mounts == [("notebook", {"name": VOLUME, "mountPath": MOUNT, "subPath": subpath})]
    notebook = pod["spec"]["containers"][0]
    assert notebook["name"] == "notebook"
    assert notebook["workingDir"] == MOUNT
    env = {e["name"]: e.get("value") for e in notebook["env"]}
    assert env["JUPYTERHUB_ROOT_DIR"] == MOUNT
    assert "initContainers" not in pod["spec"]


# -- the mount -----------------------------------------------------------------------------------


def test_default_server_with_the_seeds_body(make_spawner) -> None:
    spawner = make_spawner(user_options={"conversationId": UUID.upper()})
    assert spawner.pod_name == "jupyter-alice"
    assert_one_conversation_mount(manifest(spawner), f"alice/conversations/{UUID}")


def test_default_server_with_conversation_id(make_spawner) -> None:
    spawner = make_spawner(user_options={"conversation_id": "demo-1"})
    assert_one_conversation_mount(manifest(spawner), "alice/conversations/demo-1")


def test_named_server_is_the_conversation(make_spawner) -> None:
    spawner = make_spawner(name=UUID)
    pod = manifest(spawner)
    assert_one_conversation_mount(pod, f"alice/conversations/{UUID}")
    # the names KubeSpawner derives from it are valid Kubernetes names
    assert pod["metadata"]["name"] == "jupyter-alice--550e8400-2de29b-2d41d4-2da716-2d446655440000"
    assert DNS_SUBDOMAIN.match(pod["metadata"]["name"])
    labels = pod["metadata"]["labels"]
    for key in ("hub.jupyter.org/username", "hub.jupyter.org/servername"):
        assert LABEL_VALUE.match(labels[key]) and len(labels[key]) <= 63


def test_longest_names_still_make_valid_label_values_and_pod_names(make_spawner) -> None:
    user = "u" * 63
    conversation = "ccc" + "-c" * 15  # 33 chars, 15 '-': counts 63
    pod = manifest(make_spawner(user=user, name=conversation))
    labels = pod["metadata"]["labels"]
    assert len(labels["hub.jupyter.org/username"]) == 63
    assert len(labels["hub.jupyter.org/servername"]) == 63
    for key in ("hub.jupyter.org/username", "hub.jupyter.org/servername"):
        assert LABEL_VALUE.match(labels[key])
    assert DNS_SUBDOMAIN.match(pod["metadata"]["name"]) and len(pod["metadata"]["name"]) <= 253


def test_repeated_manifests_on_one_instance_keep_exactly_one_mount(make_spawner) -> None:
    config = Config()
    config.KubeSpawner.volumes = [{"name": "scratch", "emptyDir": {}}]
    config.KubeSpawner.volume_mounts = [{"name": "scratch", "mountPath": "/scratch"}]
    spawner = make_spawner(user_options={"conversationId": "c1"}, config=config)
    configured = (list(spawner.volumes), list(spawner.volume_mounts))
    for _ in range(4):
        pod = manifest(spawner)
        assert_one_conversation_mount(pod, "alice/conversations/c1")
        assert [v["name"] for v in pod["spec"]["volumes"]] == ["scratch", VOLUME]
    # the configured lists were never touched
    assert (spawner.volumes, spawner.volume_mounts) == configured
    assert all(v["name"] != VOLUME for v in spawner.volumes)


def test_switching_conversation_moves_the_mount(make_spawner) -> None:
    spawner = make_spawner(user_options={"conversationId": "first"})
    assert_one_conversation_mount(manifest(spawner), "alice/conversations/first")
    spawner.user_options = {"conversationId": "second"}  # what the Hub does on the next start POST
    pod = manifest(spawner)
    assert_one_conversation_mount(pod, "alice/conversations/second")
    assert "first" not in str(pod["spec"]["volumes"]) + str(pod["spec"]["containers"])


def test_no_mount_ever_reaches_the_volume_root(make_spawner) -> None:
    for options in ({"conversationId": "c1"}, {"conversation_id": "c2"}):
        pod = manifest(make_spawner(user_options=options))
        for _, mount in all_mounts(pod, VOLUME):
            assert mount.get("subPath", "").startswith("alice/conversations/")
            assert ".." not in mount["subPath"].split("/")


def test_start_sends_the_mounted_pod_to_kubernetes(make_spawner, api: ApiRecorder, monkeypatch) -> None:
    """The real KubeSpawner._start path, stopped at the pod creation call."""
    spawner = make_spawner(name="c1", user_options={"conversation_id": "c1"})

    async def no_watch(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(spawner, "_start_watching_pods", no_watch)
    monkeypatch.setattr(spawner, "_start_watching_events", no_watch)

    async def run() -> dict[str, Any]:
        with pytest.raises(PodCreated):
            await spawner.start()
        assert api.names() == ["create_namespaced_pod"]
        _, args, _ = api.calls[0]
        async with ApiClient() as client:
            return client.sanitize_for_serialization(args[1])

    pod = asyncio.run(run())
    assert_one_conversation_mount(pod, "alice/conversations/c1")
    assert spawner.notebook_dir == MOUNT


# -- refusals before Kubernetes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "name", "options", "message"),
    [
        ("alice", "", {}, "the default server needs a conversation id"),
        ("alice", "", {"conversationId": "../x"}, "invalid conversation id '../x'"),
        ("alice", "", {"conversation_id": 5}, "user_options['conversation_id'] must be a string"),
        ("alice", "..", {}, "invalid conversation id '..' (from the server name)"),
        ("alice", "a", {"conversationId": "b"}, "disagree"),
        ("alice", "", {"conversationId": "caf\u00e9"}, "non-ASCII"),
        ("alice", "", {"conversationId": "x" * 64}, "too long"),
        ("Alice", "", {"conversationId": "c1"}, "create the user as 'alice'"),
        ("alice", "Demo", {}, "start the server as 'demo'"),
    ],
)
def test_invalid_spawns_fail_in_start_before_any_kubernetes_call(
    make_spawner, api: ApiRecorder, monkeypatch, user: str, name: str, options: dict, message: str
) -> None:
    spawner = make_spawner(user=user, name=name, user_options=options)
    touched: list[str] = []

    async def record(label: str) -> None:
        touched.append(label)

    monkeypatch.setattr(spawner, "_start_watching_pods", lambda *a, **k: record("watch pods"))
    monkeypatch.setattr(spawner, "_start_watching_events", lambda *a, **k: record("watch events"))
    monkeypatch.setattr(spawner, "load_user_options", lambda: record("load_user_options"))

    async def run() -> None:
        with pytest.raises(InvalidName) as info:
            await spawner.start()
        assert message in str(info.value)
        await asyncio.sleep(0)  # let anything start() might have scheduled run

    asyncio.run(run())
    assert api.calls == []
    assert touched == []
    assert spawner._start_future is None


def test_invalid_spawn_also_fails_in_get_pod_manifest(make_spawner) -> None:
    spawner = make_spawner(user_options={"conversationId": "a/b"})
    with pytest.raises(InvalidName, match="path separator"):
        manifest(spawner)


# -- configuration conflicts ---------------------------------------------------------------------


def _config(**kubespawner: Any) -> Config:
    config = Config()
    for key, value in kubespawner.items():
        setattr(config.KubeSpawner, key, value)
    return config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_config(volumes=[{"name": VOLUME, "emptyDir": {}}]), "already has a volume named 'conversation-data'"),
        (
            _config(volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": CLAIM}}]),
            "already mounts the shared claim 'azure-blob-nfs-pvc' as volume 'data'",
        ),
        (
            _config(volume_mounts=[{"name": VOLUME, "mountPath": "/mnt/data"}]),
            "container 'notebook' already mounts a volume named 'conversation-data'",
        ),
        (
            _config(
                init_containers=[
                    {
                        "name": "chown",
                        "image": "busybox",
                        "command": ["chown", "-R", "1000:100", "/mnt/data"],
                        "volumeMounts": [{"name": VOLUME, "mountPath": "/mnt/data"}],
                    }
                ]
            ),
            "container 'chown' already mounts a volume named 'conversation-data'",
        ),
        (
            _config(volumes=[{"name": "other", "emptyDir": {}}], volume_mounts=[{"name": "other", "mountPath": MOUNT + "/"}]),
            "volume 'other' is already mounted at '/home/jovyan/work/'",
        ),
    ],
)
def test_conflicting_hub_config_fails_clearly(make_spawner, config: Config, message: str) -> None:
    spawner = make_spawner(user_options={"conversationId": "c1"}, config=config)
    with pytest.raises(ConversationMountError) as info:
        manifest(spawner)
    assert message in str(info.value)


def test_pvc_name_can_not_be_the_shared_claim(make_spawner, api: ApiRecorder) -> None:
    spawner = make_spawner(user_options={"conversationId": "c1"}, config=_config(pvc_name_template=CLAIM))
    assert spawner.pvc_name == CLAIM
    with pytest.raises(ConversationMountError, match="renders to 'azure-blob-nfs-pvc', the shared claim"):
        spawner.start()
    assert api.calls == []


def test_delete_pvc_defaults_to_false(make_spawner, api: ApiRecorder) -> None:
    spawner = make_spawner(name="c1")
    assert spawner.delete_pvc is False
    asyncio.run(spawner.delete_forever())
    assert api.calls == []


def test_shared_claim_is_never_deleted_even_with_delete_pvc(make_spawner, api: ApiRecorder) -> None:
    shared = make_spawner(name="c1", config=_config(delete_pvc=True, pvc_name_template=CLAIM))
    assert shared.delete_pvc is True
    asyncio.run(shared.delete_forever())
    assert api.calls == []

    # control: the same configuration with the spawner's own PVC name does reach the API
    own = make_spawner(name="c1", config=_config(delete_pvc=True))
    asyncio.run(own.delete_forever())
    assert api.names() == ["delete_namespaced_persistent_volume_claim"]
    assert api.calls[0][2]["name"] == "claim-alice--c1"


def test_traits_and_their_defaults() -> None:
    traits = KubeConversationSpawner.class_traits(config=True)
    assert traits["shared_claim_name"].default_value == CLAIM
    assert traits["data_volume_name"].default_value == VOLUME
    assert traits["conversation_mount_path"].default_value == MOUNT
    assert traits["delete_pvc"].default_value is False
    for name in ("shared_claim_name", "data_volume_name", "conversation_mount_path", "delete_pvc"):
        assert traits[name].help


def test_configured_names_are_used(make_spawner) -> None:
    config = Config()
    config.KubeConversationSpawner.shared_claim_name = "users-claim"
    config.KubeConversationSpawner.data_volume_name = "convo"
    config.KubeConversationSpawner.conversation_mount_path = "/mnt/data"
    pod = manifest(make_spawner(user_options={"conversationId": "c1"}, config=config))
    assert [v for v in pod["spec"]["volumes"] if v["name"] == "convo"] == [
        {"name": "convo", "persistentVolumeClaim": {"claimName": "users-claim"}}
    ]
    notebook = pod["spec"]["containers"][0]
    assert notebook["volumeMounts"][-1] == {"name": "convo", "mountPath": "/mnt/data", "subPath": "alice/conversations/c1"}
    assert notebook["workingDir"] == "/mnt/data"

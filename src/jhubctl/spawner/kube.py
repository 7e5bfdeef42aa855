"""Conversation spawner for the cluster: KubeSpawner 6.1.0 plus one per-conversation mount.

Every user pod mounts the one shared claim (default ``azure-blob-nfs-pvc``) with
``subPath: <user>/conversations/<conversation>`` at ``conversation_mount_path``, and that path is
the server's working directory and contents API root. The pod never mounts the volume root and no
init container touches the volume, so a pod can reach its own conversation's files only.

What the seed's spawner got wrong, and how this one differs:

* names were used raw; here ``naming.spawn_target`` validates user, server name and user_options in
  ``start()``, before KubeSpawner loads options, watches pods or creates anything;
* it appended to ``self.volumes`` / ``self.volume_mounts`` on every start, so restarts stacked
  mounts and a restart for another conversation kept the old one; here the volume and the mount
  are added to the fresh manifest returned by ``KubeSpawner.get_pod_manifest()``, recomputed from
  the current request on every call, and the configured lists are never touched;
* ``delete_pvc`` (true in KubeSpawner) would delete ``pvc_name`` when a user or named server is
  deleted; here it defaults to false and the shared claim is never deleted, whatever the config.

KubeSpawner applies ``modify_pod_hook`` to the manifest after ``get_pod_manifest()``: a hook must
leave the conversation volume alone. The container's ``workingDir`` and the server's root dir are
always the mount path, whatever ``working_dir`` / ``notebook_dir`` / ``environment`` say.

Only this module of the package imports kubespawner (present in the hub image, not on the local
target).
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes_asyncio.client.models import (
    V1PersistentVolumeClaimVolumeSource,
    V1Pod,
    V1Volume,
    V1VolumeMount,
)
from kubespawner import KubeSpawner
from traitlets import Bool, Unicode, default

from .naming import SpawnTarget, spawn_target

__all__ = ["ConversationMountError", "KubeConversationSpawner"]

#: KubeSpawner's make_pod() names the user's container so, and puts it first.
NOTEBOOK_CONTAINER = "notebook"


def _wire(obj: Any) -> Any:
    """A manifest as plain JSON-like data with the API's camelCase keys, None values dropped.

    What kubernetes_asyncio's ``ApiClient.sanitize_for_serialization`` sends, without needing an
    ApiClient: models map their attributes through ``attribute_map``; dicts and lists (which
    KubeSpawner leaves nested inside models, as configured) are walked as they are.
    """
    if isinstance(obj, (list, tuple)):
        return [_wire(item) for item in obj]
    if isinstance(obj, dict):
        return {key: _wire(value) for key, value in obj.items() if value is not None}
    attribute_map = getattr(type(obj), "attribute_map", None)
    if isinstance(attribute_map, dict):
        result = {}
        for attribute, key in attribute_map.items():
            value = getattr(obj, attribute, None)
            if value is not None:
                result[key] = _wire(value)
        return result
    return obj


def _field(data: Any, *keys: str) -> Any:
    """First present key of a wire dict; nested dicts written by hand may use either spelling."""
    if not isinstance(data, dict):
        return None
    for key in keys:
        if data.get(key) is not None:
            return data[key]
    return None


class ConversationMountError(RuntimeError):
    """The hub's configuration conflicts with the per-conversation mount (an operator error)."""


class KubeConversationSpawner(KubeSpawner):
    """KubeSpawner whose pods see exactly one conversation folder of the shared volume."""

    shared_claim_name = Unicode(
        "azure-blob-nfs-pvc",
        config=True,
        help="""Name of the shared PersistentVolumeClaim holding every user's conversations.

        It must already exist in the user pods' namespace (ReadWriteMany). It is only ever mounted
        with a per-conversation subPath, and never deleted by this spawner.
        """,
    )

    data_volume_name = Unicode(
        "conversation-data",
        config=True,
        help="""Name of the pod volume that references the shared claim.

        Must not be used by any volume or volumeMount of the hub's own configuration
        (``singleuser.storage.extraVolumes`` / ``extraVolumeMounts``): the spawner refuses to start
        rather than mount something twice or at the volume root.
        """,
    )

    conversation_mount_path = Unicode(
        "/home/jovyan/work",
        config=True,
        help="""Where the conversation folder is mounted in the user container.

        Also the server's working directory and contents API root (``notebook_dir``), so the
        notebooks a client saves land in the conversation folder. The default is the ``work``
        folder of the Jupyter docker-stacks images: inside HOME (``/home/jovyan``), so shells and
        file browsers find it, while Jupyter's runtime files stay in HOME itself, outside the
        conversation.
        """,
    )

    # KubeSpawner's default is True: deleting a user or a named server would delete pvc_name.
    delete_pvc = Bool(
        False,
        config=True,
        help="""Delete the spawner's own PVC (``pvc_name``) when its user or named server is deleted.

        False here: conversation data lives on the shared claim, which is never deleted by this
        spawner even when this is set to True (see ``delete_forever``).
        """,
    )

    @default("notebook_dir")
    def _default_notebook_dir(self) -> str:
        return self._literal_mount_path()

    def _literal_mount_path(self) -> str:
        # Spawner.get_env() passes notebook_dir through str.format(): keep braces literal.
        return self.conversation_mount_path.replace("{", "{{").replace("}", "}}")

    # -- validation ------------------------------------------------------------------------------

    def spawn_target(self) -> SpawnTarget:
        """Validate this spawn's user, server name and user_options (see ``naming.spawn_target``)."""
        return spawn_target(self.user.name, self.name, self.user_options)

    def _check_config(self) -> None:
        """Configuration errors that no manifest can fix; raised before anything reaches Kubernetes."""
        if not self.shared_claim_name:
            raise ConversationMountError("KubeConversationSpawner.shared_claim_name is empty")
        if not self.data_volume_name:
            raise ConversationMountError("KubeConversationSpawner.data_volume_name is empty")
        path = self.conversation_mount_path
        if not path.startswith("/") or path.rstrip("/") == "":
            raise ConversationMountError(
                f"KubeConversationSpawner.conversation_mount_path must be an absolute path below '/', "
                f"not {path!r}"
            )
        if self.pvc_name == self.shared_claim_name:
            raise ConversationMountError(
                f"pvc_name_template renders to {self.pvc_name!r}, the shared claim: KubeSpawner would "
                f"treat the shared claim as this server's own PVC (storage_pvc_ensure, delete_pvc); "
                f"use another pvc_name_template"
            )

    def start(self) -> asyncio.Future[Any]:
        """Validate, then let KubeSpawner start the pod.

        Synchronous like ``KubeSpawner.start`` so that an invalid request raises here, before
        KubeSpawner's coroutine loads user options, starts watching pods or creates anything. The
        message of the exception is what JupyterHub shows in the progress stream's failed event.
        """
        self._check_config()
        target = self.spawn_target()
        self.notebook_dir = self._literal_mount_path()
        self.log.info(
            "Conversation %s of %s: %s:%s at %s",
            target.conversation,
            target.user,
            self.shared_claim_name,
            target.subpath,
            self.conversation_mount_path,
        )
        return super().start()

    # -- the pod ---------------------------------------------------------------------------------

    def get_env(self) -> dict[str, Any]:
        """The contents API root is the conversation mount, whatever ``environment`` says."""
        env: dict[str, Any] = super().get_env()
        env["JUPYTERHUB_ROOT_DIR"] = self.conversation_mount_path
        return env

    async def get_pod_manifest(self) -> V1Pod:
        """KubeSpawner's fresh manifest plus the conversation volume and its one subPath mount.

        Validates again (the spawn request may have changed since ``start()``; this is cheap and
        pure) and refuses configurations that would reach the shared claim another way: a volume
        with our name, any other volume on the shared claim, a mount of our volume name in any
        container or init container (it would mount the volume root), or another mount at our
        mount path.
        """
        self._check_config()
        target = self.spawn_target()
        pod: V1Pod = await super().get_pod_manifest()
        self._check_manifest(_wire(pod))

        spec = pod.spec
        notebook = spec.containers[0]
        spec.volumes = list(spec.volumes or []) + [
            V1Volume(
                name=self.data_volume_name,
                persistent_volume_claim=V1PersistentVolumeClaimVolumeSource(
                    claim_name=self.shared_claim_name
                ),
            )
        ]
        notebook.volume_mounts = list(notebook.volume_mounts or []) + [
            V1VolumeMount(
                name=self.data_volume_name,
                mount_path=self.conversation_mount_path,
                sub_path=target.subpath,
            )
        ]
        notebook.working_dir = self.conversation_mount_path
        return pod

    def _check_manifest(self, pod: dict[str, Any]) -> None:
        """Raise ConversationMountError if KubeSpawner's manifest already uses our volume or claim.

        ``pod`` is the wire form: KubeSpawner converts only the top level of configured volumes and
        containers into models, their nested parts stay the dicts the operator wrote.
        """
        spec = pod.get("spec") or {}
        for volume in spec.get("volumes") or []:
            name = volume.get("name")
            if name == self.data_volume_name:
                raise ConversationMountError(
                    f"the hub's configuration already has a volume named {name!r}; remove it (or set "
                    f"KubeConversationSpawner.data_volume_name): the spawner adds this volume itself"
                )
            claim = _field(volume, "persistentVolumeClaim", "persistent_volume_claim") or {}
            if _field(claim, "claimName", "claim_name") == self.shared_claim_name:
                raise ConversationMountError(
                    f"the hub's configuration already mounts the shared claim "
                    f"{self.shared_claim_name!r} as volume {name!r}; remove it: the spawner mounts "
                    f"only the conversation's subPath, never the volume root"
                )

        containers = spec.get("containers") or []
        if not containers or containers[0].get("name") != NOTEBOOK_CONTAINER:
            raise ConversationMountError(
                f"expected KubeSpawner's {NOTEBOOK_CONTAINER!r} container first in the pod, "
                f"found {[c.get('name') for c in containers]}"
            )
        init_containers = _field(spec, "initContainers", "init_containers") or []
        for container in containers + init_containers:
            for mount in _field(container, "volumeMounts", "volume_mounts") or []:
                if mount.get("name") == self.data_volume_name:
                    raise ConversationMountError(
                        f"container {container.get('name')!r} already mounts a volume named "
                        f"{self.data_volume_name!r} at {_field(mount, 'mountPath', 'mount_path')!r}; "
                        f"remove that mount: it would reach the shared volume outside the "
                        f"conversation's subPath"
                    )
        ours = self.conversation_mount_path.rstrip("/")
        for mount in _field(containers[0], "volumeMounts", "volume_mounts") or []:
            path = _field(mount, "mountPath", "mount_path")
            if isinstance(path, str) and path.rstrip("/") == ours:
                raise ConversationMountError(
                    f"volume {mount.get('name')!r} is already mounted at {path!r}, the "
                    f"conversation mount path; change one of them"
                )

    async def delete_forever(self) -> None:
        """Never delete the shared claim, even with ``delete_pvc = True`` in the hub's config."""
        if self.pvc_name == self.shared_claim_name:
            self.log.warning(
                "Not deleting pvc %s of %s: it is the shared conversation claim",
                self.pvc_name,
                self._log_name,
            )
            return
        await super().delete_forever()

"""The one adapter between jhubctl and Azure Resource Manager.

Every resource goes through the generic by-id operations of azure-mgmt-resource: one PUT/GET/DELETE
path for all types, whose poller follows both LRO styles (Azure-AsyncOperation and Location). Bodies
are plain REST-shaped dicts, which the hybrid SDK models send verbatim, so a test can assert every
body byte for byte. After every long-running operation the result is checked (`id` present,
`provisioningState == Succeeded`): a storage create whose monitor says Failed returns an empty object
without raising.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .errors import AzureError, from_sdk

#: One api-version per resource type, all GA versions that real ARM serves.
API_VERSIONS = {
    "Microsoft.ContainerRegistry/registries": "2023-07-01",
    "Microsoft.Network/virtualNetworks": "2024-05-01",
    "Microsoft.Network/virtualNetworks/subnets": "2024-05-01",
    "Microsoft.Network/networkSecurityGroups": "2024-05-01",
    "Microsoft.Storage/storageAccounts": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "2023-05-01",
    "Microsoft.ContainerService/managedClusters": "2024-09-01",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
}

#: provisioningState values after which nothing more happens; any other (Creating, Updating, AKS's Upgrading
#: and Scaling, storage's ResolvingDNS, ...) means an operation is still under way and is waited for.
TERMINAL = {"succeeded", "failed", "canceled"}
#: How long to wait for a resource another (interrupted) run, or another tool, left busy.
SETTLE_TIMEOUT = 3600.0
#: 409 codes of a write refused because another operation runs on the resource (network, AKS, storage).
BUSY_CODES = {"AnotherOperationInProgress", "OperationNotAllowed", "StorageAccountOperationInProgress"}

Report = Callable[[str], None]


def _is_busy(error: AzureError) -> bool:
    # AKS uses OperationNotAllowed for other refusals too; only "another operation is in progress" is busy.
    return error.code in BUSY_CODES and (error.code != "OperationNotAllowed" or "in progress" in error.message.lower())


def busy(resource: dict[str, Any] | None) -> str | None:
    """The provisioningState of a resource an operation is still running on, else None."""
    state = str(((resource or {}).get("properties") or {}).get("provisioningState") or "")
    return state if state and state.lower() not in TERMINAL else None


def _final_error(poller: Any) -> tuple[str, str] | None:
    """The error of an LRO whose final monitor answer said Failed without the SDK raising (storage)."""
    try:
        body = poller.polling_method()._pipeline_response.http_response.json()  # no public accessor
    except Exception:  # noqa: BLE001 - best effort: fall back to verify()'s generic message
        return None
    if not isinstance(body, dict) or str(body.get("status", "")).lower() != "failed":
        return None
    error = body.get("error") or {}
    return str(error.get("code") or "Failed"), " ".join(str(error.get("message") or "no message").split())


#: Resource providers the steps use; `begin_*` calls do not auto-register them.
PROVIDERS = ("Microsoft.ContainerService", "Microsoft.ContainerRegistry", "Microsoft.Network", "Microsoft.Storage")


def resource_type(resource_id: str) -> str:
    """`.../providers/Microsoft.X/a/n1/b/n2` → `Microsoft.X/a/b` (the api-version key)."""
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    i = len(lowered) - 1 - lowered[::-1].index("providers")
    namespace, rest = parts[i + 1], parts[i + 2 :]
    return "/".join([namespace, *rest[0::2]])


def api_version(resource_id: str) -> str:
    kind = resource_type(resource_id)
    for known, version in API_VERSIONS.items():
        if known.lower() == kind.lower():
            return version
    raise KeyError(f"no api-version known for {kind}")


class Arm:
    """Thin and synchronous; safe to share between step threads (azure-core pipelines are thread-safe)."""

    def __init__(self, endpoint: str, subscription_id: str, credential: Any, **client_kwargs: Any):
        from azure.mgmt.resource.resources import ResourceManagementClient

        self.endpoint = endpoint.rstrip("/")
        self.subscription_id = subscription_id
        self.credential = credential
        self.client_kwargs = {"credential_scopes": [f"{self.endpoint}/.default"], **client_kwargs}
        self.resources = ResourceManagementClient(credential, subscription_id, base_url=self.endpoint,
                                                  **self.client_kwargs)

    # generic resources
    def get(self, resource_id: str) -> dict[str, Any] | None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            return self.resources.resources.get_by_id(resource_id, api_version=api_version(resource_id)).as_dict()
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            raise from_sdk(exc, f"read {resource_id}") from None

    def put(self, resource_id: str, body: dict[str, Any], report: Report | None = None) -> dict[str, Any]:
        from azure.core.exceptions import HttpResponseError

        for attempt in (1, 2):
            try:
                poller = self.resources.resources.begin_create_or_update_by_id(
                    resource_id, body, api_version=api_version(resource_id)
                )
                result = poller.result()
                break
            except HttpResponseError as exc:
                error = from_sdk(exc, f"create/update {resource_id}")
                # Busy: another tool's operation, or a retried PUT whose first answer was lost meeting its own.
                if attempt == 2 or not _is_busy(error):
                    raise error from None
                self.settle(resource_id, report)
        if result is None or not result.get("id"):
            failed = _final_error(poller)  # a Location monitor's {"status": "Failed"} returns no resource
            if failed is not None:
                raise AzureError(f"create/update {resource_id}: {failed[0]}: {failed[1]}", code=failed[0])
        return self.verify(resource_id, result.as_dict() if result is not None else {}, report)

    def settle(self, resource_id: str, report: Report | None = None,
               timeout: float = SETTLE_TIMEOUT) -> dict[str, Any] | None:
        """Wait while an operation runs on the resource (an interrupted run's, or another tool's)."""
        deadline = time.monotonic() + timeout
        delay = 0.5
        while True:
            current = self.get(resource_id)
            state = busy(current)
            if state is None or time.monotonic() > deadline:
                return current
            if report is not None:
                report(f"waiting: {resource_id.rsplit('/', 1)[-1]} is {state}")
            time.sleep(delay)
            delay = min(delay * 2, 15.0)

    def verify(self, resource_id: str, result: dict[str, Any], report: Report | None = None) -> dict[str, Any]:
        """An LRO's end is trusted only with an id and a Succeeded state; else look again (and wait)."""
        if not result.get("id") or busy(result):
            result = self.settle(resource_id, report) or {}
        state = (result.get("properties") or {}).get("provisioningState")
        if not result.get("id") or (state is not None and str(state) != "Succeeded"):
            raise AzureError(
                f"create/update {resource_id} ended {state or 'without a resource'} (provisioningState)",
                code="ProvisioningFailed",
                hint="the Azure activity log of the resource group says why; fix it and run again",
            )
        return result

    def delete(self, resource_id: str) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self.resources.resources.begin_delete_by_id(resource_id, api_version=api_version(resource_id)).result()
        except ResourceNotFoundError:
            return
        except HttpResponseError as exc:
            raise from_sdk(exc, f"delete {resource_id}") from None

    # resource groups
    def get_group(self, name: str) -> dict[str, Any] | None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            return self.resources.resource_groups.get(name).as_dict()
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            raise from_sdk(exc, f"read resource group {name}") from None

    def put_group(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        from azure.core.exceptions import HttpResponseError

        try:
            return self.resources.resource_groups.create_or_update(name, body).as_dict()
        except HttpResponseError as exc:
            raise from_sdk(exc, f"create resource group {name}") from None

    def delete_group(self, name: str) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self.resources.resource_groups.begin_delete(name).result()
        except ResourceNotFoundError:
            return
        except HttpResponseError as exc:
            raise from_sdk(exc, f"delete resource group {name}") from None

    def group_resources(self, name: str) -> list[dict[str, Any]]:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            return [r.as_dict() for r in self.resources.resources.list_by_resource_group(name)]
        except ResourceNotFoundError:
            return []
        except HttpResponseError as exc:
            raise from_sdk(exc, f"list resource group {name}") from None

    def role_assignments(self, scope: str, principal_id: str) -> list[dict[str, Any]]:
        """The principal's role assignments at, above and below ``scope`` (ARM's `principalId eq` filter)."""
        from azure.core.rest import HttpRequest

        url: str | None = f"{scope}/providers/Microsoft.Authorization/roleAssignments"
        params = {"api-version": API_VERSIONS["Microsoft.Authorization/roleAssignments"],
                  "$filter": f"principalId eq '{principal_id}'"}
        found: list[dict[str, Any]] = []
        while url:
            answer = self.resources.send_request(HttpRequest("GET", url, params=params))
            if answer.status_code >= 400:
                try:
                    error = answer.json().get("error") or {}
                except ValueError:
                    error = {}
                code = str(error.get("code") or answer.status_code)
                raise AzureError(f"list role assignments of {principal_id} on {scope}: {code}: "
                                 f"{' '.join(str(error.get('message') or answer.text).split())}", code=code)
            page = answer.json()
            found += page.get("value") or []
            url, params = page.get("nextLink"), {}  # the next link carries its own query
        return found

    # providers
    def unregistered(self, namespaces: tuple[str, ...] = PROVIDERS) -> list[str]:
        from azure.core.exceptions import HttpResponseError

        try:
            states = {ns: self.resources.providers.get(ns).registration_state for ns in namespaces}
        except HttpResponseError as exc:
            raise from_sdk(exc, "read resource providers") from None
        return [ns for ns, state in states.items() if str(state) != "Registered"]

    def register(self, namespaces: list[str], timeout: float = 600.0) -> None:
        from azure.core.exceptions import HttpResponseError

        try:
            for ns in namespaces:
                self.resources.providers.register(ns)
            deadline = time.monotonic() + timeout
            while pending := self.unregistered(tuple(namespaces)):
                if time.monotonic() > deadline:
                    raise AzureError(f"resource providers still registering: {', '.join(pending)}",
                                     hint="registration can take minutes; run again later")
                time.sleep(2)
        except HttpResponseError as exc:
            raise from_sdk(exc, "register resource providers") from None

    # actions that need a typed client
    def cluster_user_kubeconfig(self, group: str, cluster: str) -> bytes:
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.containerservice import ContainerServiceClient

        client = ContainerServiceClient(self.credential, self.subscription_id, base_url=self.endpoint,
                                        **self.client_kwargs)
        try:
            result = client.managed_clusters.list_cluster_user_credentials(group, cluster)
        except HttpResponseError as exc:
            raise from_sdk(exc, f"get credentials of {cluster}") from None
        if not result.kubeconfigs or result.kubeconfigs[0].value is None:
            raise AzureError(f"Azure returned no kubeconfig for {cluster}", code="NoKubeconfig")
        return bytes(result.kubeconfigs[0].value)

"""Azure Container Registry: builds run inside the registry (ACR Tasks), and the registry's own API.

The build is what ``az acr build`` does, with no Docker on this machine: ask for a source upload URL,
upload the context tarball to it (a SAS blob URL: ``x-ms-blob-type: BlockBlob``, no Azure token), schedule
a ``DockerBuildRequest`` for ``linux/<node arch>``, follow the run and its log (a SAS link), and fail with
the log's tail. ACR Tasks left ``azure-mgmt-containerregistry`` after 14.0.0 and its GA API versions, so
the client here is 14.0.0 pinned to api-version 2019-06-01-preview.

The registry's own API (``https://<login server>``) answers whether a tag exists: the Azure token is
exchanged for a registry refresh token (``/oauth2/exchange``, what ``az acr login`` does), that for a
pull-scoped access token, then ``HEAD /v2/<repo>/manifests/<tag>``. The refresh token also logs docker
in for ``--local-docker`` builds (user ``00000000-0000-0000-0000-000000000000``, password on stdin).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import JhubctlError, TimeoutExceeded
from .registry import MANIFEST_TYPES, error_text, trust

TASKS_API_VERSION = "2019-06-01-preview"
#: Seconds between polls of a run.
POLL = 3.0
#: The build's own time limit in ACR (the API's default), and how much longer jhubctl waits for it.
BUILD_TIMEOUT = 3600
GRACE = 300
TERMINAL = {"Succeeded", "Failed", "Canceled", "Error", "Timeout"}
#: The user name docker logs in with when the password is an ACR refresh token.
TOKEN_USER = "00000000-0000-0000-0000-000000000000"
LOG_TAIL = 20


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    log: str
    error: str | None = None

    def tail(self, lines: int = LOG_TAIL) -> str:
        return "\n".join(self.log.rstrip().splitlines()[-lines:])


class Acr:
    def __init__(self, *, arm_endpoint: str, subscription_id: str, resource_group: str, name: str, login_server: str,
                 credential: Any, tenant_id: str | None = None):
        from azure.mgmt.containerregistry import ContainerRegistryManagementClient

        self.arm_endpoint = arm_endpoint.rstrip("/")
        self.resource_group, self.name, self.login_server = resource_group, name, login_server
        self.credential, self.tenant_id = credential, tenant_id
        self.client = ContainerRegistryManagementClient(
            credential, subscription_id, api_version=TASKS_API_VERSION, base_url=self.arm_endpoint,
            credential_scopes=[f"{self.arm_endpoint}/.default"],
        )
        self.http = httpx.Client(timeout=60, verify=trust())

    def close(self) -> None:
        self.http.close()
        self.client.close()

    # -- ACR Tasks -------------------------------------------------------------------------------
    def upload(self, tarball: bytes) -> str:
        """Upload a context; returns the relative path a run names as its source."""
        from azure.core.exceptions import HttpResponseError

        try:
            target = self.client.registries.get_build_source_upload_url(self.resource_group, self.name)
        except HttpResponseError as exc:
            raise _arm_error(exc, f"asking registry {self.name} for an upload URL") from None
        answer = self._send("PUT", target.upload_url, "uploading the build context", content=tarball,
                            headers={"x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream"})
        if answer.status_code not in (200, 201):
            raise JhubctlError(f"uploading the build context failed: {answer.status_code} {_blob_error(answer)}")
        return str(target.relative_path)

    def schedule(self, source: str, image_names: list[str], platform: str) -> str:
        """Queue a Docker build of ``source`` pushing ``image_names``; returns the run id."""
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.containerregistry.v2019_06_01_preview.models import DockerBuildRequest, PlatformProperties

        os_name, arch = platform.split("/", 1)
        request = DockerBuildRequest(
            image_names=image_names, is_push_enabled=True, source_location=source, docker_file_path="Dockerfile",
            platform=PlatformProperties(os=os_name.capitalize(), architecture=arch, variant="v8" if arch == "arm64" else None),
            timeout=BUILD_TIMEOUT,
        )
        try:
            run = self.client.registries.begin_schedule_run(self.resource_group, self.name, request).result()
        except HttpResponseError as exc:
            raise _arm_error(exc, f"scheduling a build in registry {self.name}") from None
        return str(run.run_id)

    def follow(self, run_id: str, on_line: Callable[[str], None] | None = None) -> Run:
        """Poll the run until it ends, handing on new log lines as they appear."""
        from azure.core.exceptions import HttpResponseError

        deadline = time.monotonic() + BUILD_TIMEOUT + GRACE
        shown = 0
        while True:
            try:
                run = self.client.runs.get(self.resource_group, self.name, run_id)
            except HttpResponseError as exc:
                raise _arm_error(exc, f"reading run {run_id}") from None
            status = str(run.status)
            log = self.log(run_id)
            if on_line is not None:
                lines = log.splitlines()
                for line in lines[shown:]:
                    on_line(line)
                shown = len(lines)
            if status in TERMINAL:
                return Run(run_id, status, log, run.run_error_message)
            if time.monotonic() > deadline:
                raise TimeoutExceeded(f"ACR run {run_id} is still {status} after {BUILD_TIMEOUT + GRACE} s")
            time.sleep(POLL)

    def log(self, run_id: str) -> str:
        from azure.core.exceptions import HttpResponseError

        try:
            link = self.client.runs.get_log_sas_url(self.resource_group, self.name, run_id).log_link
        except HttpResponseError as exc:
            raise _arm_error(exc, f"asking for the log of run {run_id}") from None
        answer = self._send("GET", str(link), f"reading the log of run {run_id}")
        return answer.text if answer.status_code == 200 else ""  # 404 until the run writes its first line

    # -- the registry's own API ------------------------------------------------------------------
    def refresh_token(self) -> str:
        aad = self.credential.get_token(f"{self.arm_endpoint}/.default").token
        form = {"grant_type": "access_token", "service": self.login_server, "access_token": aad}
        if self.tenant_id:
            form["tenant"] = self.tenant_id
        answer = self._send("POST", f"https://{self.login_server}/oauth2/exchange", "signing in to the registry", data=form)
        if answer.status_code != 200:
            raise JhubctlError(
                f"registry {self.login_server} refused the Azure token: {answer.status_code} {error_text(answer)}",
                hint="the identity needs AcrPush (or Contributor) on the registry",
            )
        return str(answer.json()["refresh_token"])

    def has_tag(self, repository: str, tag: str) -> bool:
        form = {"grant_type": "refresh_token", "service": self.login_server,
                "scope": f"repository:{repository}:pull", "refresh_token": self.refresh_token()}
        answer = self._send("POST", f"https://{self.login_server}/oauth2/token", "signing in to the registry", data=form)
        if answer.status_code != 200:
            raise JhubctlError(f"registry {self.login_server} refused a pull token: {answer.status_code} {error_text(answer)}")
        access = answer.json()["access_token"]
        head = self._send("HEAD", f"https://{self.login_server}/v2/{repository}/manifests/{tag}", "looking up the image",
                          headers={"Authorization": f"Bearer {access}", "Accept": ", ".join(MANIFEST_TYPES)})
        if head.status_code in (200, 404):
            return head.status_code == 200
        raise JhubctlError(f"looking up {self.login_server}/{repository}:{tag} failed: {head.status_code}")

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            host = httpx.URL(url).host
            raise JhubctlError(f"{what} failed: cannot reach {host}: {exc}") from None


def _arm_error(exc: Any, what: str) -> JhubctlError:
    from ..azure.errors import from_sdk

    return from_sdk(exc, what)


def _blob_error(answer: httpx.Response) -> str:
    """Azure Storage answers XML: ``<Error><Code>..</Code><Message>..</Message></Error>``."""
    import re

    code = re.search(r"<Code>([^<]*)</Code>", answer.text)
    return code.group(1) if code else answer.reason_phrase

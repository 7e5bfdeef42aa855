"""ACR Tasks on the fake ARM (api-version 2019-06-01-preview), and the SAS blob storage its URLs point at.

What ``az acr build`` (and jhubctl's build-hub-image) uses, with the REST shapes of the
azure-rest-api-specs examples (RegistriesGetBuildSourceUploadUrl, RegistriesScheduleRun, RunsGet,
RunsGetLogSasUrl):

* ``POST .../registries/{r}/listBuildSourceUploadUrl`` -> ``{uploadUrl, relativePath}``: a SAS URL on
  :class:`FakeBlob`, which takes one ``PUT`` with ``x-ms-blob-type: BlockBlob`` (400
  ``MissingRequiredHeader`` without it, 403 ``AuthenticationFailed`` with a bad signature, as Azure Storage
  answers: XML);
* ``POST .../registries/{r}/scheduleRun`` with a ``DockerBuildRequest`` -> a Run, ``status: Queued``. The
  uploaded tarball is opened: a missing Dockerfile fails the run with docker's own message;
* ``GET .../registries/{r}/runs/{id}`` -> the Run: ``Running`` for :attr:`AcrTasks.polls` reads, then
  ``Succeeded`` (``outputImages``; :attr:`AcrTasks.on_push` is told) or ``Failed`` with the lines of
  :attr:`AcrTasks.fail_next`;
* ``POST .../runs/{id}/listLogSasUrl`` -> ``{logLink}``: the run's log on :class:`FakeBlob`, growing as the run goes.

Other api-versions are refused as ARM refuses them (ACR Tasks are not in the GA versions jhubctl's ARM
adapter uses). Hooked into the store through ``ResourceStore.extensions``; the registry must exist there.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import itertools
import re
import tarfile
import threading
from collections.abc import Callable
from email.message import Message
from typing import Any
from urllib.parse import unquote

from ..base.server import FakeServer, Reply
from .common import ArmError
from .server import FakeArm

API_VERSIONS = ("2019-04-01", "2019-06-01-preview")
_REGISTRY = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.containerregistry/registries/"
    r"(?P<name>[^/]+)/(?P<rest>listbuildsourceuploadurl|schedulerun|runs/(?P<run>[^/]+)(?P<log>/listlogsasurl)?)$",
    re.IGNORECASE,
)


def _xml_error(status: int, code: str, message: str) -> Reply:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Reply(status, body, {"x-ms-error-code": code})


class FakeBlob(FakeServer):
    """Blob storage reached only through SAS URLs it signed itself."""

    name = "fake-blob"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults = _NoFaults()
        self.blobs: dict[str, bytes] = {}
        self._key = b"fake-blob-account-key"
        self.lock = threading.Lock()
        self._local = threading.local()

    def sas_url(self, path: str) -> str:
        sig = hmac.new(self._key, path.encode(), hashlib.sha256).hexdigest()
        return f"{self.url}/{path}?sv=2019-02-02&sr=b&sp=rw&se=2099-01-01T00%3A00%3A00Z&sig={sig}"

    def _handle(self, rec: Any, route: Any, body: Any) -> Reply:
        path = unquote(rec.path.lstrip("/"))
        good = hmac.new(self._key, path.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(rec.query.get("sig", ""), good):
            return _xml_error(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the "
                              "value of Authorization header is formed correctly including the signature.")
        with self.lock:
            if rec.method == "PUT":
                if rec.headers.get("x-ms-blob-type") != "BlockBlob":
                    return _xml_error(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request "
                                      "is not specified.")
                self.blobs[path] = rec.raw
                return Reply(201)
            if rec.method == "GET":
                if path not in self.blobs:
                    return _xml_error(404, "BlobNotFound", "The specified blob does not exist.")
                return Reply(200, self.blobs[path].decode("utf-8", "replace"))
        return _xml_error(405, "UnsupportedHttpVerb", "The resource doesn't support specified Http Verb.")

    def _process(self, method: str, target: str, headers: Message, raw: bytes) -> Reply:
        self._local.raw = raw  # handler threads: each request keeps its own bytes
        return super()._process(method, target, headers, raw)

    def _record(self, route: Any, request_headers: Message, **fields: Any) -> Any:
        rec = self.requests.new(**fields)
        rec.raw = self._local.raw  # the uploaded bytes, whatever they are (the record's body is text)
        return rec


class _NoFaults:
    def before(self, rec: Any) -> None:
        return None

    def after(self, rec: Any) -> None:
        return None


class AcrTasks:
    """The ACR Tasks endpoints of one fake ARM. Knobs: :attr:`polls`, :attr:`fail_next`, :attr:`on_push`."""

    def __init__(self, arm: FakeArm, blob: FakeBlob, on_push: Callable[[str, str, str], None] | None = None):
        self.arm, self.blob, self.on_push = arm, blob, on_push
        #: Reads of a run that still find it Running before it ends.
        self.polls = 0
        #: Log lines of the next run, which then fails.
        self.fail_next: list[str] | None = None
        self.runs: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []  # scheduleRun bodies, as sent
        self._ids = (f"ca{n}" for n in itertools.count(1))
        arm.resources.extensions.append(self.handle)

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply | None:
        m = _REGISTRY.match(path)
        if m is None:
            return None
        version = query.get("api-version", "")
        if version not in API_VERSIONS:
            raise ArmError(400, "NoRegisteredProviderFound",
                           f"No registered resource provider found for location 'eastus' and API version '{version}' for "
                           f"type 'registries'. The supported api-versions are '{', '.join(API_VERSIONS)}'.")
        registry_id = path[: path.lower().index("/registries/") + len("/registries/") + len(m["name"])]
        registry = self.arm.resources.get(registry_id)
        if registry is None:
            raise ArmError(404, "ResourceNotFound", f"The Resource 'Microsoft.ContainerRegistry/registries/{m['name']}' "
                           f"under resource group '{m['rg']}' was not found.")
        rest = m["rest"].lower()
        if rest == "listbuildsourceuploadurl" and method == "POST":
            relative = f"source/20240501000000/{hashlib.sha1(str(len(self.blob.blobs)).encode()).hexdigest()}.tar.gz"
            return Reply(200, {"uploadUrl": self.blob.sas_url(relative), "relativePath": relative})
        if rest == "schedulerun" and method == "POST":
            return Reply(200, self._schedule(registry_id, registry, body))
        run = self.runs.get(str(m["run"]))
        if run is None:
            raise ArmError(404, "ResourceNotFound", f"The run '{m['run']}' was not found.")
        if m["log"] and method == "POST":
            return Reply(200, {"logLink": self.blob.sas_url(f"logs/{run['name']}/rawtext.log")})
        if method == "GET" and not m["log"]:
            self._advance(run)
            return Reply(200, self.run(run["name"]))
        raise ArmError(405, "MethodNotAllowed", f"The method '{method}' is not allowed.")

    def _schedule(self, registry_id: str, registry: dict[str, Any], body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("type") != "DockerBuildRequest":
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: only DockerBuildRequest is modelled.")
        platform = body.get("platform") or {}
        if platform.get("os") not in ("Linux", "Windows") or platform.get("architecture") not in ("amd64", "x86", "386", "arm", "arm64"):
            raise ArmError(400, "InvalidRequestContent", f"The platform {platform} is not valid.")
        self.requests.append(body)
        run_id = next(self._ids)
        log = [f"Queued a build with ID: {run_id}", "Waiting for an agent...", f"Sending context to {registry_id.rsplit('/', 1)[-1]}"]
        failure = self.fail_next
        self.fail_next = None
        source = self.blob.blobs.get(str(body.get("sourceLocation")))
        if source is None:
            failure = ["failed to download context: the source location was never uploaded"]
        else:
            files = _members(source)
            dockerfile = str(body.get("dockerFilePath") or "Dockerfile")
            if dockerfile not in files:
                failure = [f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat "
                           f"/workspace/{dockerfile}: no such file or directory"]
            else:
                base = re.search(r"^FROM\s+(\S+)", files[dockerfile].decode(), re.M)
                log.append(f"Step 1/5 : FROM {base.group(1) if base else '?'}")
        run = {
            "id": f"{registry_id}/runs/{run_id}", "name": run_id, "type": "Microsoft.ContainerRegistry/registries/runs",
            "properties": {"runId": run_id, "status": "Queued", "provisioningState": "Succeeded", "runType": "QuickRun",
                           "platform": platform, "lastUpdatedTime": "2024-05-01T10:00:00Z", "createTime": "2024-05-01T10:00:00Z"},
            "_failure": failure, "_polls": self.polls, "_images": list(body.get("imageNames") or []),
            "_login": registry["properties"].get("loginServer"),
        }
        self.runs[run_id] = run
        self.blob.blobs[f"logs/{run_id}/rawtext.log"] = ("\n".join(log) + "\n").encode()
        return {k: v for k, v in run.items() if not k.startswith("_")}

    def _advance(self, run: dict[str, Any]) -> None:
        props = run["properties"]
        if props["status"] in ("Succeeded", "Failed"):
            return
        key = f"logs/{run['name']}/rawtext.log"
        if run["_polls"] > 0:
            run["_polls"] -= 1
            props["status"] = "Running"
            self.blob.blobs[key] += b"Step 2/5 : COPY --chown=root:root jhubctl /opt/jhubctl/jhubctl\n"
            return
        if run["_failure"]:
            props["status"], props["runErrorMessage"] = "Failed", "failed during run, err: exit status 1"
            lines = list(run["_failure"]) + [f"Run ID: {run['name']} failed after 12s. Error: failed during run, err: exit status 1"]
        else:
            props["status"] = "Succeeded"
            images = []
            for name in run["_images"]:
                repository, _, tag = name.partition(":")
                images.append({"registry": run["_login"], "repository": repository, "tag": tag,
                               "digest": "sha256:" + hashlib.sha256(name.encode()).hexdigest()})
                if self.on_push is not None:
                    self.on_push(repository, tag, f"{props['platform']['os'].lower()}/{props['platform']['architecture']}")
            props["outputImages"] = images
            lines = [f"Successfully pushed image: {run['_login']}/{i['repository']}:{i['tag']}" for i in images]
            lines.append(f"Run ID: {run['name']} was successful after 42s")
        self.blob.blobs[key] += ("\n".join(lines) + "\n").encode()
        props["finishTime"] = "2024-05-01T10:00:42Z"

    def run(self, run_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.runs[run_id].items() if not k.startswith("_")}


def _members(tarball: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(tarball)), mode="r") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]

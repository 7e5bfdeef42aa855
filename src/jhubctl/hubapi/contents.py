"""Files of a conversation, through its server's contents API: the same on every target.

Paths are relative to the conversation folder (the server's contents root). An absolute path, a `..`
segment, a backslash or a control character is refused here, before any request; the server refuses
escapes again (its contents root), and its `jhubctl.singleuser.contents.ConfinedContentsManager` refuses
symlinks that leave the folder.

Uploads are base64 (byte for byte). A file above `CHUNK_BYTES` goes in chunks (jupyter-server's large
file protocol: chunk 1 creates, 2.. append, -1 ends) under a temporary name that is renamed into place
only when complete, so a broken upload never leaves a half-written file under the real name. Downloads
stream from the server's `/files/` handler, to a temporary local file renamed when complete.
"""

from __future__ import annotations

import base64
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import NotFoundError, UsageError
from .client import HubError
from .server import ServerClient

#: Bytes per upload request; base64 makes each request a third larger. Well under tornado's 100 MB body limit.
CHUNK_BYTES = 4 * 1024 * 1024
#: Default largest file moved either way (config `servers.max_file_bytes`).
MAX_FILE_BYTES = 100 * 1024 * 1024

#: Called with (bytes done, bytes in all) as a transfer goes.
TransferCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Entry:
    """One item of a conversation folder, as the contents API describes it."""

    name: str
    path: str
    type: str  # file | directory | notebook
    size: int | None
    last_modified: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def clean_path(path: str, *, root_ok: bool = False) -> str:
    """`path` as a plain relative path inside the conversation folder, or a usage error saying why not."""
    if not isinstance(path, str):
        raise UsageError(f"path must be a string, got {type(path).__name__}")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise UsageError(f"path {path!r} contains a control character")
    if "\\" in path:
        raise UsageError(f"path {path!r} contains '\\': use '/' between folders")
    if path.startswith(("/", "~")) or (len(path) > 1 and path[1] == ":"):
        raise UsageError(f"path {path!r} is absolute: give a path relative to the conversation folder")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UsageError(f"path {path!r} contains '..': files outside the conversation folder cannot be reached")
    if not parts and not root_ok:
        raise UsageError("path is empty: name a file in the conversation folder")
    return "/".join(parts)


class Contents:
    """The conversation folder of one running server."""

    def __init__(self, server: ServerClient, *, max_bytes: int = MAX_FILE_BYTES, chunk_bytes: int = CHUNK_BYTES):
        self.server = server
        self.max_bytes = max_bytes
        self.chunk_bytes = chunk_bytes

    # plumbing
    def _url(self, path: str) -> str:
        return f"/contents/{quote(path)}"

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self.server.http.request(method, self._url(path), **kwargs)
        except httpx.TransportError as exc:
            raise HubError(f"{what}: cannot reach the user server at {self.server.base_url} ({exc})") from None
        if resp.status_code == 404:
            raise NotFoundError(f"{what}: no such file or folder in the conversation ({_reason(resp)})")
        if resp.status_code >= 400:
            raise HubError(f"{what}: the server answered {resp.status_code}: {_reason(resp)}")
        return resp

    def model(self, path: str) -> dict[str, Any] | None:
        """The contents model of `path` without its content, or None if there is nothing there."""
        path = clean_path(path, root_ok=True)
        try:
            return self._request("GET", path, f"stat {path or '.'}", params={"content": "0"}).json()
        except NotFoundError:
            return None

    # reading
    def list(self, path: str = "") -> list[Entry]:
        path = clean_path(path, root_ok=True)
        model = self._request("GET", path, f"list {path or '.'}", params={"content": "1"}).json()
        items = model["content"] if model["type"] == "directory" else [model]
        return sorted((_entry(m) for m in items), key=lambda e: (e.type != "directory", e.path))

    def download(self, path: str, on_progress: TransferCallback | None = None) -> bytes:
        chunks = list(self.iter_download(path, on_progress))
        return b"".join(chunks)

    def download_to(self, path: str, local: Path, *, overwrite: bool = False,
                    on_progress: TransferCallback | None = None) -> int:
        """Write the file to `local` through a temporary file beside it; returns its size."""
        if local.exists() and not overwrite:
            raise UsageError(f"{local} exists", hint="pass --overwrite to replace it")
        fd, tmp = tempfile.mkstemp(dir=local.parent, prefix=f".{local.name}.", suffix=".part")
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in self.iter_download(path, on_progress):
                    handle.write(chunk)
                    size += len(chunk)
            os.replace(tmp, local)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def iter_download(self, path: str, on_progress: TransferCallback | None = None) -> Iterator[bytes]:
        path = clean_path(path)
        model = self.model(path)
        if model is None:
            raise NotFoundError(f"get {path}: no such file in the conversation")
        if model["type"] == "directory":
            raise UsageError(f"{path} is a folder: `files ls` lists it; get takes a file")
        total = int(model.get("size") or 0)
        self._check_size(path, total)
        url = f"{self.server.base_url}files/{quote(path)}"  # absolute: the client's base is .../api
        done = 0
        try:
            with self.server.http.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    if resp.status_code == 404:
                        raise NotFoundError(f"get {path}: no such file in the conversation ({_reason(resp)})")
                    raise HubError(f"get {path}: the server answered {resp.status_code}: {_reason(resp)}")
                for chunk in resp.iter_bytes(1024 * 1024):
                    done += len(chunk)
                    if done > self.max_bytes:
                        raise UsageError(f"get {path}: the file grew past the {_mib(self.max_bytes)} limit")
                    if on_progress is not None:
                        on_progress(done, max(total, done))
                    yield chunk
        except httpx.TransportError as exc:
            raise HubError(f"get {path}: the transfer broke ({exc})") from None

    # writing
    def upload(self, path: str, data: bytes | Path, *, overwrite: bool = False,
               on_progress: TransferCallback | None = None) -> Entry:
        """Write `data` (bytes, or a local file) to `path`; an existing file needs `overwrite`."""
        path = clean_path(path)
        total = data.stat().st_size if isinstance(data, Path) else len(data)
        self._check_size(path, total)
        existing = self.model(path)
        if existing is not None and existing["type"] == "directory":
            raise UsageError(f"{path} is a folder in the conversation; name a file")
        if existing is not None and not overwrite:
            raise UsageError(f"{path} already exists in the conversation", hint="pass --overwrite to replace it")
        self._make_parents(path)
        chunks = _chunks(data, self.chunk_bytes)
        if total <= self.chunk_bytes:
            body = {"type": "file", "format": "base64", "content": base64.b64encode(next(chunks, b"")).decode()}
            model = self._request("PUT", path, f"put {path}", json=body).json()
            if on_progress is not None:
                on_progress(total, total)
            return _entry(model)
        partial = f"{path}.{uuid.uuid4().hex[:8]}.jhubctl-partial"
        try:
            done = 0
            for index, chunk in enumerate(chunks, start=1):
                done += len(chunk)
                number = -1 if done >= total else index
                body = {"type": "file", "format": "base64", "content": base64.b64encode(chunk).decode(), "chunk": number}
                self._request("PUT", partial, f"put {path}", json=body)
                if on_progress is not None:
                    on_progress(done, total)
            if existing is not None:
                self._request("DELETE", path, f"replace {path}")
            model = self._request("PATCH", partial, f"put {path}", json={"path": path}).json()
        except BaseException:
            self._discard(partial)
            raise
        return _entry(model)

    def write_text(self, path: str, text: str, *, overwrite: bool = True) -> Entry:
        return self.upload(path, text.encode("utf-8"), overwrite=overwrite)

    def remove(self, path: str) -> None:
        path = clean_path(path)
        self._request("DELETE", path, f"rm {path}")

    def _make_parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            model = self.model(folder)
            if model is None:
                self._request("PUT", folder, f"mkdir {folder}", json={"type": "directory"})
            elif model["type"] != "directory":
                raise UsageError(f"{folder} is a file in the conversation, not a folder")

    def _discard(self, path: str) -> None:
        try:
            self.server.http.request("DELETE", self._url(path))
        except httpx.HTTPError:
            pass  # the server is gone; so is the chance to tidy up

    def _check_size(self, path: str, size: int) -> None:
        if size > self.max_bytes:
            raise UsageError(
                f"{path}: {_mib(size)} is over the {_mib(self.max_bytes)} file size limit",
                hint="raise servers.max_file_bytes in the config",
            )


def _chunks(data: bytes | Path, size: int) -> Iterator[bytes]:
    if isinstance(data, bytes):
        for start in range(0, len(data), size):
            yield data[start : start + size]
        return
    with data.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _entry(model: dict[str, Any]) -> Entry:
    return Entry(model["name"], model["path"], model["type"], model.get("size"), model.get("last_modified"))


def _reason(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:200] or resp.reason_phrase
    return str(body.get("message") or body.get("reason") or body) if isinstance(body, dict) else str(body)


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"

"""The guide's own TypeScript client, request for request, against our hub (issue 11).

Its `jupyterHubUtils.ts` and `jupyterServerUtils.ts` (Falven/Open-Data-Analysis, packages/open-data-analysis)
do: `GET /users/{u}` then `POST /users/{u}` on 404; `POST /users/{u}/server` with `{"conversationId": c}`;
the progress event stream; a python3 session whose path is the conversation id; the kernel websocket
asking for `v1.kernel.websocket.jupyter.org`; `execute_request`; a `PUT` of `{c}.ipynb` through the
contents API. User ids come sanitised (`[^A-Za-z0-9]` runs made `_`), so `_` and e-mail-derived names
must work. Its token helpers need `read:tokens` and `tokens` on the user.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.sync.client import connect

if TYPE_CHECKING:
    from conftest import RunningHub

pytestmark = pytest.mark.hub

V1 = "v1.kernel.websocket.jupyter.org"


def sanitise(user_id: str) -> str:
    """What the guide's client does to a user id before it talks to the hub (lowercased by its callers)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", user_id).lower()


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}", "Content-Type": "application/json"}


def message(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": uuid.uuid4().hex, "username": "seed",
              "date": datetime.now(UTC).isoformat(), "version": "5.3"}
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell",
            "buffers": []}


def pack_v1(msg: dict[str, Any]) -> bytes:
    """The v1 kernel websocket framing (jupyter-server's serialize_msg_to_ws_v1), as @jupyterlab/services sends it."""
    parts = [json.dumps(msg[k]).encode() for k in ("header", "parent_header", "metadata", "content")]
    channel = msg["channel"].encode()
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(offsets[-1] + len(channel))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    return b"".join([len(offsets).to_bytes(8, "little"), *(o.to_bytes(8, "little") for o in offsets), channel, *parts])


def unpack_v1(raw: bytes) -> dict[str, Any]:
    count = int.from_bytes(raw[:8], "little")
    offsets = [int.from_bytes(raw[8 * (i + 1): 8 * (i + 2)], "little") for i in range(count)]
    channel = raw[offsets[0]:offsets[1]].decode()
    header, parent, metadata, content = (json.loads(raw[offsets[i]:offsets[i + 1]]) for i in range(1, 5))
    return {"channel": channel, "header": header, "parent_header": parent, "metadata": metadata, "content": content}


def get_or_create_user(api: str, token: str, name: str) -> dict[str, Any]:
    resp = httpx.get(f"{api}/users/{name}", headers=headers(token))
    if resp.status_code == 404:
        resp = httpx.post(f"{api}/users/{name}", headers=headers(token))
        assert resp.status_code == 201, resp.text
    else:
        assert resp.status_code == 200, resp.text
    user = resp.json()
    assert {"name", "admin", "server", "pending", "created", "last_activity"} <= set(user)
    return user


def start_and_follow(api: str, token: str, name: str, conversation: str) -> list[dict[str, Any]]:
    resp = httpx.post(f"{api}/users/{name}/server", headers=headers(token), json={"conversationId": conversation})
    assert resp.status_code in (201, 202), resp.text
    events: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{api}/users/{name}/server/progress", timeout=60,
                      headers={**headers(token), "Accept": "text/event-stream"}) as stream:
        assert stream.status_code == 200
        for line in stream.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
                assert not events[-1].get("failed"), events[-1]
                if events[-1].get("ready"):
                    break
    assert events and events[-1]["ready"] is True and "progress" in events[-1]
    return events


def run_in_kernel(ws_url: str, token: str, code: str, subprotocols: list[str] | None) -> tuple[str | None, str, int]:
    """Execute like @jupyterlab/services: the subprotocol decides the framing; returns (protocol, stdout, count)."""
    with connect(f"{ws_url}?session_id={uuid.uuid4().hex}", additional_headers={"Authorization": f"token {token}"},
                 subprotocols=subprotocols, open_timeout=30) as ws:
        v1 = ws.subprotocol == V1
        request = message("execute_request", {"code": code, "silent": False, "store_history": True,
                                              "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        ws.send(pack_v1(request) if v1 else json.dumps(request))
        stdout, count, idle, replied = "", 0, False, False
        while not (idle and replied):
            raw = ws.recv(timeout=10)
            msg = unpack_v1(raw) if v1 else json.loads(raw)
            if msg["parent_header"].get("msg_id") != request["header"]["msg_id"]:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream" and msg["content"]["name"] == "stdout":
                stdout += msg["content"]["text"]
            elif kind == "execute_reply":
                replied, count = True, msg["content"]["execution_count"]
            elif kind == "status":
                idle = msg["content"]["execution_state"] == "idle"
        return ws.subprotocol, stdout, count


@pytest.mark.parametrize("subprotocols", [None, [V1]], ids=["legacy", "v1"])
@pytest.mark.parametrize("user_id", ["a-b", "Jane.Doe@Example.com"])
def test_the_guides_rest_sequence_works_with_its_sanitised_names(
    running_hub: RunningHub, user_id: str, subprotocols: list[str] | None
) -> None:
    api, token = f"{running_hub.hub.url}/hub/api", running_hub.token
    name = sanitise(user_id)  # a_b, jane_doe_example_com
    conversation = "conv_" + uuid.uuid4().hex[:8]
    user = get_or_create_user(api, token, name)
    assert user["name"] == name and get_or_create_user(api, token, name)["name"] == name  # the second GET finds it
    start_and_follow(api, token, name, conversation)

    base = f"{running_hub.hub.url}/user/{name}/"
    user = httpx.get(f"{api}/users/{name}", headers=headers(token)).json()
    assert user["servers"][""]["user_options"] == {"conversationId": conversation}
    session = httpx.post(f"{base}api/sessions", headers=headers(token), json={
        "name": f"{conversation}.ipynb", "path": conversation, "type": "notebook", "kernel": {"name": "python3"}})
    assert session.status_code == 201, session.text
    ws_url = base.replace("http", "ws", 1) + f"api/kernels/{session.json()['kernel']['id']}/channels"

    protocol, stdout, count = run_in_kernel(ws_url, token, "print(6*7)", subprotocols)
    assert stdout == "42\n" and count >= 1
    assert protocol == (V1 if subprotocols else None)  # asked for v1: answered with v1, as the cluster's proxy does

    notebook = {"metadata": {}, "nbformat_minor": 5, "nbformat": 4, "cells": [
        {"cell_type": "code", "source": "print(6*7)", "metadata": {}, "execution_count": count,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "42\n"}]}]}
    saved = httpx.put(f"{base}api/contents/{conversation}.ipynb", headers=headers(token),
                      json={"name": f"{conversation}.ipynb", "path": f"{conversation}.ipynb", "type": "notebook",
                            "format": None, "content": notebook})
    assert saved.status_code in (200, 201), saved.text
    on_disk = json.loads((running_hub.folder(name, conversation) / f"{conversation}.ipynb").read_text())
    assert "".join(on_disk["cells"][0]["outputs"][0]["text"]) == "42\n"
    assert httpx.delete(f"{api}/users/{name}/server", headers=headers(token)).status_code in (202, 204)


def test_the_guides_token_calls_work_within_the_service_scope(running_hub: RunningHub) -> None:
    """`getOrRenewUserToken`: list (read:tokens), delete expired ones, create (tokens); 403 before issue 11."""
    api, token = f"{running_hub.hub.url}/hub/api", running_hub.token
    name = sanitise("token.user@example.com")
    get_or_create_user(api, token, name)
    listed = httpx.get(f"{api}/users/{name}/tokens", headers=headers(token))
    assert listed.status_code == 200 and listed.json() == {"api_tokens": []}
    # its createUserToken body, verbatim: JupyterHub 3+ refuses roles and scopes together (the client's bug)
    verbatim = httpx.post(f"{api}/users/{name}/tokens", headers=headers(token), json={
        "expires_in": 3600, "note": "Generated by Code Interpreter", "roles": ["user"], "scopes": ["self"]})
    assert verbatim.status_code == 400 and "one of scopes or roles" in verbatim.json()["message"]
    created = httpx.post(f"{api}/users/{name}/tokens", headers=headers(token), json={
        "expires_in": 3600, "note": "Generated by Code Interpreter", "scopes": ["self"]})
    assert created.status_code == 201, created.text
    model = created.json()
    assert all(s.endswith(f"!user={name}") for s in model["scopes"])  # never more than the user holds
    assert [t["id"] for t in httpx.get(f"{api}/users/{name}/tokens", headers=headers(token)).json()["api_tokens"]] \
        == [model["id"]]
    assert httpx.delete(f"{api}/users/{name}/tokens/{model['id']}", headers=headers(token)).status_code == 204
    escalate = httpx.post(f"{api}/users/{name}/tokens", headers=headers(token), json={"scopes": ["admin:users"]})
    assert escalate.status_code == 400 and "not held by User" in escalate.json()["message"]

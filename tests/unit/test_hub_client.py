"""HubClient against a scripted hub (httpx.MockTransport): the requests it sends and how it reads answers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

from jhubctl.errors import ExitCode, NotFoundError, TimeoutExceeded
from jhubctl.hubapi.client import HubClient, HubError, SpawnFailed
from jhubctl.interpreter import Interpreter
from jhubctl.local.process import free_port

HUB = "http://hub.test"
TOKEN = "s3rvice-t0ken"
API = "/hub/api"

Handler = Callable[[httpx.Request], httpx.Response]


class FakeHub:
    """Answers requests from a list of handlers, in order, and records every request."""

    def __init__(self, *answers: Handler | httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.answers, f"unexpected request {request.method} {request.url.path}"
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else answer

    def client(self) -> HubClient:
        return HubClient(HUB, TOKEN, transport=httpx.MockTransport(self))

    @property
    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]

    def bodies(self, method: str) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests if r.method == method]


def user_model(servers: dict[str, dict[str, Any]], name: str = "alice") -> httpx.Response:
    full = {k: {"name": k, "ready": False, "pending": None, **v} for k, v in servers.items()}
    return httpx.Response(200, json={"name": name, "kind": "user", "servers": full})


READY = user_model({"c1": {"ready": True, "url": "/user/alice/c1/"}})


def sse(*events: dict[str, Any] | None) -> bytes:
    """An event stream; None stands for a keep-alive blank line."""
    return b"".join(b"\n" if e is None else f"data: {json.dumps(e)}\n\n".encode() for e in events)


def slow_stream(chunks: Iterable[bytes], interval: float) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        time.sleep(interval)


def assert_authenticated(hub: FakeHub) -> None:
    assert hub.requests
    for request in hub.requests:
        assert request.headers["Authorization"] == f"token {TOKEN}"
        assert TOKEN not in str(request.url)


# --- users ----------------------------------------------------------------------------------------


NO_USER = httpx.Response(404, json={"status": 404, "message": "No access to resources or resources not found"})


def test_ensure_user_creates() -> None:
    hub = FakeHub(NO_USER, httpx.Response(201, json={"name": "alice"}))
    assert hub.client().ensure_user("alice") is True
    assert hub.calls == [("GET", f"{API}/users/alice"), ("POST", f"{API}/users/alice")]
    assert_authenticated(hub)


def test_ensure_user_existing_asks_and_does_not_create() -> None:
    """A GET first: a per-user token (no admin:users) must work for a user that exists."""
    hub = FakeHub(user_model({}))
    assert hub.client().ensure_user("alice") is False
    assert hub.calls == [("GET", f"{API}/users/alice")]


def test_ensure_user_created_meanwhile_is_fine() -> None:
    hub = FakeHub(NO_USER, httpx.Response(409, json={"status": 409, "message": "User alice already exists"}))
    assert hub.client().ensure_user("alice") is False


def test_ensure_user_server_error_is_a_hub_error() -> None:
    hub = FakeHub(NO_USER, httpx.Response(500, json={"status": 500, "message": "database is locked"}))
    with pytest.raises(HubError, match="database is locked"):
        hub.client().ensure_user("alice")


# --- start_server ---------------------------------------------------------------------------------


def start(hub: FakeHub, *, timeout: float = 5.0, idle_timeout: float = 5.0, events: list | None = None):
    on_progress = events.append if events is not None else None
    return hub.client().start_server(
        "alice", "c1", {"conversation_id": "c1"}, timeout=timeout, idle_timeout=idle_timeout, on_progress=on_progress
    )


def test_start_201_is_ready() -> None:
    hub = FakeHub(httpx.Response(201), READY)
    result = start(hub)
    assert result.server.ready
    assert result.server.url == f"{HUB}/user/alice/c1/"
    assert result.already_running is False
    assert hub.calls == [("POST", f"{API}/users/alice/servers/c1"), ("GET", f"{API}/users/alice")]
    assert hub.bodies("POST") == [{"conversation_id": "c1"}]
    assert_authenticated(hub)


def test_start_202_follows_progress_until_ready() -> None:
    stream = sse(
        {"progress": 0, "message": "Server requested"},
        None,
        None,
        {"progress": 50, "message": "Spawning server..."},
        None,
        {"progress": 100, "ready": True, "message": "Server ready at /user/alice/c1/", "url": "/user/alice/c1/"},
    )
    hub = FakeHub(httpx.Response(202), httpx.Response(200, content=stream), READY)
    events: list[dict[str, Any]] = []
    result = start(hub, events=events)

    assert result.server.ready and not result.already_running
    assert [e["progress"] for e in events] == [0, 50, 100]  # keep-alives are not events
    assert events[-1]["ready"] is True
    assert hub.calls == [
        ("POST", f"{API}/users/alice/servers/c1"),
        ("GET", f"{API}/users/alice/servers/c1/progress"),
        ("GET", f"{API}/users/alice"),
    ]
    assert_authenticated(hub)


def test_start_202_failed_event_raises_with_the_hub_message() -> None:
    stream = sse(
        {"progress": 0, "message": "Server requested"},
        {"progress": 100, "failed": True, "message": "Spawn failed: invalid conversation id 'X/../y'"},
    )
    hub = FakeHub(httpx.Response(202), httpx.Response(200, content=stream))
    events: list[dict[str, Any]] = []
    with pytest.raises(SpawnFailed) as info:
        start(hub, events=events)
    assert "invalid conversation id 'X/../y'" in info.value.message
    assert "alice/c1" in info.value.message
    assert events[-1]["failed"] is True


def test_start_429_is_retried_with_the_same_body() -> None:
    hub = FakeHub(
        httpx.Response(429, headers={"Retry-After": "0"}, json={"message": "Too many users trying to log in"}),
        httpx.Response(201),
        READY,
    )
    began = time.monotonic()
    result = start(hub)
    assert time.monotonic() - began < 0.5, "Retry-After: 0 was not honoured"
    assert result.server.ready
    posts = [r for r in hub.requests if r.method == "POST"]
    assert len(posts) == 2
    assert posts[0].content == posts[1].content
    assert json.loads(posts[1].content) == {"conversation_id": "c1"}


def test_start_400_already_running_is_reported_and_not_posted_again() -> None:
    hub = FakeHub(httpx.Response(400, json={"status": 400, "message": "alice/c1 is already running"}), READY)
    result = start(hub)
    assert result.already_running is True
    assert result.server.ready
    assert [m for m, _ in hub.calls].count("POST") == 1


def test_start_400_while_stopping_waits_then_posts_again() -> None:
    stopping = user_model({"c1": {"ready": False, "pending": "stop"}})
    hub = FakeHub(
        httpx.Response(400, json={"status": 400, "message": "alice/c1 is pending stop"}),
        stopping,
        httpx.Response(201),
        READY,
    )
    result = start(hub)
    assert result.server.ready and not result.already_running
    assert [m for m, _ in hub.calls] == ["POST", "GET", "POST", "GET"]
    assert hub.bodies("POST") == [{"conversation_id": "c1"}, {"conversation_id": "c1"}]


def test_start_400_while_spawning_follows_the_spawn() -> None:
    spawning = user_model({"c1": {"ready": False, "pending": "spawn"}})
    hub = FakeHub(
        httpx.Response(400, json={"message": "alice/c1 is pending spawn"}),
        spawning,
        httpx.Response(200, content=sse({"progress": 100, "ready": True, "message": "ready"})),
        READY,
    )
    assert start(hub).server.ready
    assert [m for m, _ in hub.calls].count("POST") == 1


def test_start_400_for_another_reason_is_a_hub_error() -> None:
    hub = FakeHub(httpx.Response(400, json={"message": "Invalid server name"}), user_model({}))
    with pytest.raises(HubError, match="Invalid server name"):
        start(hub)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_says_so(status: int) -> None:
    hub = FakeHub(httpx.Response(status, json={"status": status, "message": "Forbidden"}))
    with pytest.raises(HubError) as info:
        start(hub)
    assert "token" in info.value.message
    assert str(status) in info.value.message
    assert info.value.hint and "token" in info.value.hint
    assert TOKEN not in info.value.message + info.value.hint


def test_start_404_is_not_found() -> None:
    hub = FakeHub(httpx.Response(404, json={"status": 404, "message": "No such user: alice"}))
    with pytest.raises(NotFoundError) as info:
        start(hub)
    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert "No such user" in info.value.message


def test_start_stream_without_events_hits_the_idle_timeout() -> None:
    keepalives = slow_stream([sse({"progress": 10, "message": "Pending"})] + [b"\n"] * 500, interval=0.02)
    hub = FakeHub(httpx.Response(202), httpx.Response(200, content=keepalives))
    began = time.monotonic()
    with pytest.raises(TimeoutExceeded) as info:
        start(hub, timeout=10, idle_timeout=0.3)
    elapsed = time.monotonic() - began
    assert 0.25 <= elapsed < 2.0
    assert "no progress" in info.value.message
    assert info.value.exit_code == ExitCode.TIMEOUT


def test_start_stream_that_never_says_ready_hits_the_start_timeout() -> None:
    busy = slow_stream([sse({"progress": 10 + i % 80, "message": "pulling image"}) for i in range(500)], interval=0.02)
    hub = FakeHub(httpx.Response(202), httpx.Response(200, content=busy))
    began = time.monotonic()
    with pytest.raises(TimeoutExceeded) as info:
        start(hub, timeout=0.4, idle_timeout=5)
    assert time.monotonic() - began < 2.0
    assert "did not become ready" in info.value.message
    assert info.value.hint


def test_transport_error_is_one_line_with_a_hint() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    hub = FakeHub(refuse)
    with pytest.raises(HubError) as info:
        start(hub)
    assert HUB in info.value.message
    assert "\n" not in info.value.message
    assert info.value.hint
    assert info.value.__suppress_context__ and info.value.__cause__ is None  # no chained traceback


def test_unreachable_hub_through_the_cli(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()  # a port nobody listens on
    monkeypatch.setenv("JHUBCTL_HUB_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("JHUBCTL_API_TOKEN", "t0ken")
    code, out, err = cli("servers")
    assert code == ExitCode.ERROR
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        next(line for line in err.splitlines() if "cannot reach the hub" in line)
    ]
    assert "Traceback" not in err and "t0ken" not in err
    assert out == ""


# --- stop_server ----------------------------------------------------------------------------------


def test_stop_with_remove_sends_remove_true() -> None:
    hub = FakeHub(httpx.Response(204), user_model({}))
    assert hub.client().stop_server("alice", "c1", remove=True) is True
    assert hub.calls[0] == ("DELETE", f"{API}/users/alice/servers/c1")
    assert hub.bodies("DELETE") == [{"remove": True}]
    assert_authenticated(hub)


def test_stop_without_remove_sends_no_body() -> None:
    hub = FakeHub(
        user_model({"c1": {"ready": True, "pending": None}}),
        httpx.Response(204),
        user_model({}),
    )
    assert hub.client().stop_server("alice", "c1") is True
    assert hub.calls[1] == ("DELETE", f"{API}/users/alice/servers/c1")
    assert hub.requests[1].content == b""


def test_stop_of_an_already_stopped_server_sends_no_delete() -> None:
    """The hub lists only active servers; a stopped one is reported as 'was not running'."""
    hub = FakeHub(user_model({}))
    assert hub.client().stop_server("alice", "c1") is False
    assert [m for m, _ in hub.calls] == ["GET"]


def test_stop_waits_for_a_pending_stop() -> None:
    hub = FakeHub(
        user_model({"c1": {"ready": True, "pending": None}}),
        httpx.Response(202),
        user_model({"c1": {"pending": "stop"}}),
        user_model({}),
    )
    assert hub.client().stop_server("alice", "c1") is True
    assert [m for m, _ in hub.calls] == ["GET", "DELETE", "GET", "GET"]


def test_stop_of_an_unknown_server_is_false() -> None:
    hub = FakeHub(httpx.Response(404, json={"message": "alice has no server named 'c1'"}))
    assert hub.client().stop_server("alice", "c1") is False


# --- the interpreter's start request --------------------------------------------------------------


def test_interpreter_start_body_is_exactly_the_conversation_id() -> None:
    hub = FakeHub(
        NO_USER,
        httpx.Response(201, json={"name": "alice"}),
        httpx.Response(201),
        user_model({"c-42": {"ready": True}}),
    )
    with Interpreter(hub.client(), "Alice", "C-42") as it:
        result = it.start()
    assert result.server.ready
    assert hub.calls == [
        ("GET", f"{API}/users/alice"),
        ("POST", f"{API}/users/alice"),
        ("POST", f"{API}/users/alice/servers/c-42"),
        ("GET", f"{API}/users/alice"),
    ]
    assert json.loads(hub.requests[2].content) == {"conversation_id": "c-42"}
    assert_authenticated(hub)


@pytest.mark.parametrize("conversation", ["../x", "a/b", "", "c1?x=1"])
def test_interpreter_refuses_bad_ids_before_any_request(conversation: str) -> None:
    from jhubctl.errors import UsageError

    hub = FakeHub()
    with pytest.raises(UsageError, match="conversation id"):
        Interpreter(hub.client(), "alice", conversation)
    assert hub.requests == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, 1.0), ("0", 0.0), ("2.5", 2.5), ("-3", 0.0), ("garbage", 1.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_accepts_seconds_and_http_dates(header, expected) -> None:
    from jhubctl.retry import retry_after

    assert retry_after(header) == expected


def test_retry_after_in_the_future_is_honoured() -> None:
    from email.utils import format_datetime
    from datetime import UTC, datetime, timedelta

    from jhubctl.retry import retry_after

    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after(when) <= 30

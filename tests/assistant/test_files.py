"""Files in and out of a conversation folder, through the library and `jhubctl files`, on the real hub."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from jhubctl.errors import NotFoundError, UsageError
from jhubctl.hubapi.client import HubClient
from jhubctl.hubapi.contents import Contents, clean_path
from jhubctl.hubapi.server import ServerClient
from jhubctl.interpreter import Interpreter
from tests.assistant.conftest import RunningHub

pytestmark = pytest.mark.hub

ESCAPES = ["/etc/passwd", "../other/x.txt", "a/../../x", "..", "~/x", "C:/x", "a\\..\\x", "a\x00b", ""]


def env(hub: RunningHub) -> list[str]:
    return ["--config", str(hub.loaded.path), "--state-dir", str(hub.loaded.state_dir)]


def test_clean_paths_are_plain_relative_paths() -> None:
    assert clean_path("./data//in.csv") == "data/in.csv"
    assert clean_path("", root_ok=True) == ""
    for bad in ESCAPES:
        with pytest.raises(UsageError):
            clean_path(bad)


@pytest.mark.parametrize("bad", ESCAPES)
def test_escapes_are_refused_before_any_request(bad: str) -> None:
    requests: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: requests.append(r) or httpx.Response(500))
    hub = HubClient("http://hub.test", "t", transport=transport)
    it = Interpreter(hub, "alice", "c1")
    for call in (lambda: it.upload(bad, b"x"), lambda: it.download(bad), lambda: it.remove(bad)):
        with pytest.raises(UsageError):
            call()
    if bad:  # the folder itself may be listed
        with pytest.raises(UsageError):
            it.list_files(bad)
    assert requests == []


def test_text_binary_and_20_mb_round_trip_byte_for_byte(running_hub: RunningHub) -> None:
    binary = bytes(range(256)) * 64 + b"\r\n\x00\x1a"
    big = os.urandom(20 * 1024 * 1024 + 3)
    progress: list[tuple[int, int]] = []
    with running_hub.client() as hub, Interpreter(hub, "files_a", "c1") as it:
        it.upload("notes.txt", "héllo\nwörld\n".encode())
        it.upload("data/raw.bin", binary)
        it.upload("big.bin", big, on_progress=lambda done, total: progress.append((done, total)))
        assert it.download("notes.txt") == "héllo\nwörld\n".encode()
        assert it.download("data/raw.bin") == binary
        assert it.download("big.bin") == big
        # the code sees the very same bytes
        result = it.execute("import hashlib; print(hashlib.sha256(open('big.bin','rb').read()).hexdigest())")
        import hashlib

        assert result.stdout.strip() == hashlib.sha256(big).hexdigest()
        listed = {e.path: e for e in it.list_files()}
        assert listed["big.bin"].size == len(big) and listed["data"].type == "directory"
        assert [e.path for e in it.list_files("data")] == ["data/raw.bin"]
        assert not any("partial" in p for p in listed)
    assert len(progress) == 6 and progress[-1] == (len(big), len(big))  # 4 MiB chunks, in order
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert (running_hub.folder("files_a", "c1") / "big.bin").read_bytes() == big


def test_put_of_an_existing_file_needs_overwrite(running_hub: RunningHub) -> None:
    with running_hub.client() as hub, Interpreter(hub, "files_b", "c1") as it:
        it.upload("a.txt", b"first")
        with pytest.raises(UsageError, match="already exists"):
            it.upload("a.txt", b"second")
        assert it.download("a.txt") == b"first"
        it.upload("a.txt", b"second", overwrite=True)
        assert it.download("a.txt") == b"second"
        it.remove("a.txt")
        with pytest.raises(NotFoundError):
            it.download("a.txt")


def test_the_size_limit_is_checked_before_the_transfer(running_hub: RunningHub) -> None:
    with running_hub.client() as hub, Interpreter(hub, "files_c", "c1", max_file_bytes=1000) as it:
        with pytest.raises(UsageError, match="file size limit"):
            it.upload("big.bin", b"x" * 1001)
        it.execute("open('made.bin', 'wb').write(b'y' * 2000)")
        with pytest.raises(UsageError, match="file size limit"):
            it.download("made.bin")
    assert not (running_hub.folder("files_c", "c1") / "big.bin").exists()


def test_the_server_refuses_escapes_too(running_hub: RunningHub) -> None:
    """What the client refuses, the server refuses as well: a raw request with '..' never leaves the folder."""
    (running_hub.hub.data_root / "files_d").mkdir(parents=True, exist_ok=True)
    with running_hub.client() as hub, Interpreter(hub, "files_d", "c1") as it:
        url = it.start().server.url
    headers = {"Authorization": f"token {running_hub.token}"}
    for raw in ("..%2F..%2Fconversations", "%2E%2E/%2E%2E/c2", "..%2f..%2f..%2fjupyterhub.sqlite"):
        resp = httpx.get(f"{url}api/contents/{raw}", headers=headers)
        assert resp.status_code in (400, 404), (raw, resp.status_code, resp.text[:200])
        resp = httpx.put(f"{url}api/contents/{raw}%2Fx.txt", headers=headers,
                         json={"type": "file", "format": "text", "content": "escaped"})
        assert resp.status_code in (400, 404), (raw, resp.status_code)
    assert not list(running_hub.hub.data_root.rglob("x.txt"))


def test_symlinks_that_leave_the_folder_are_refused_by_the_server(running_hub: RunningHub) -> None:
    with running_hub.client() as hub, Interpreter(hub, "files_victim", "secret") as victim:
        victim.upload("key.txt", b"victim's secret")
    with running_hub.client() as hub, Interpreter(hub, "files_e", "c1") as it:
        it.upload("mine.txt", b"fine")
        folder = running_hub.folder("files_e", "c1")
        os.symlink(running_hub.folder("files_victim", "secret"), folder / "escape_dir")
        os.symlink(running_hub.folder("files_victim", "secret") / "key.txt", folder / "escape.txt")
        os.symlink(folder / "mine.txt", folder / "inside.txt")
        assert it.download("inside.txt") == b"fine"  # a link that stays inside is an ordinary file
        for path in ("escape.txt", "escape_dir/key.txt"):
            with pytest.raises(NotFoundError):
                it.download(path)
        with pytest.raises(NotFoundError):
            it.list_files("escape_dir")
        with pytest.raises(NotFoundError):
            it.upload("escape_dir/planted.txt", b"x")
        raw = httpx.get(f"{it.start().server.url}files/escape.txt", headers={"Authorization": f"token {running_hub.token}"})
        assert raw.status_code in (403, 404) and b"secret" not in raw.content
    assert not (running_hub.folder("files_victim", "secret") / "planted.txt").exists()


def test_a_broken_chunked_upload_leaves_no_file(running_hub: RunningHub) -> None:
    with running_hub.client() as hub, Interpreter(hub, "files_f", "c1") as it:
        url = it.start().server.url
        calls = {"n": 0}

        def flaky(request: httpx.Request) -> httpx.Response:
            if request.method == "PUT" and json.loads(request.content or b"{}").get("chunk") == 2:
                calls["n"] += 1
                raise httpx.ConnectError("network went away")
            return real.handle_request(request)

        real = httpx.HTTPTransport()
        contents = Contents(ServerClient(url, running_hub.token, transport=httpx.MockTransport(flaky)), chunk_bytes=1024)
        with pytest.raises(Exception, match="network went away|cannot reach"):
            contents.upload("half.bin", b"z" * 5000)
        assert calls["n"] == 1
        assert [e.path for e in it.list_files()] == []


def test_files_commands(cli, running_hub: RunningHub, tmp_path: Path) -> None:
    local = tmp_path / "in.csv"
    local.write_bytes(b"a,b\n1,2\n")
    code, out, err = cli(*env(running_hub), "files", "put", "files_g", "c1", str(local), "--json")
    assert code == 0, err
    assert json.loads(out)["path"] == "in.csv"
    code, _, err = cli(*env(running_hub), "files", "put", "files_g", "c1", str(local))
    assert code == 2 and "already exists" in err and "--overwrite" in err
    code, out, err = cli(*env(running_hub), "files", "put", "files_g", "c1", str(local), "sub/in.csv", "--overwrite")
    assert code == 0, err
    code, out, _ = cli(*env(running_hub), "files", "ls", "files_g", "c1", "--json")
    assert {e["path"] for e in json.loads(out)} == {"in.csv", "sub"}
    code, out, _ = cli(*env(running_hub), "files", "ls", "files_g", "c1")
    assert "in.csv" in out and "sub/" in out
    target = tmp_path / "out.csv"
    code, out, err = cli(*env(running_hub), "files", "get", "files_g", "c1", "sub/in.csv", str(target), "--json")
    assert code == 0, err
    assert target.read_bytes() == local.read_bytes() and json.loads(out)["size"] == 8
    code, _, err = cli(*env(running_hub), "files", "get", "files_g", "c1", "sub/in.csv", str(target))
    assert code == 2 and "--overwrite" in err
    code, _, err = cli(*env(running_hub), "files", "get", "files_g", "c1", "nope.csv", str(tmp_path / "n.csv"))
    assert code == 6 and "no such file" in err and not (tmp_path / "n.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind
    code, _, err = cli(*env(running_hub), "files", "rm", "files_g", "c1", "in.csv")
    assert code == 0, err
    code, _, err = cli(*env(running_hub), "files", "get", "files_g", "c1", "../../x", str(tmp_path / "x"))
    assert code == 2 and "'..'" in err and "Traceback" not in err

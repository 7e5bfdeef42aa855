"""`jhubctl token --user`: a short-lived token that reaches one user's servers and nothing else.

Against the real hub: the token is minted with exactly the documented scopes, it can start, use and
stop that user's server through the library, and it cannot reach another user's server or files,
create users, list users or mint further tokens.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jhubctl.hubapi.client import HubClient, HubError
from jhubctl.interpreter import Interpreter
from jhubctl.services import API_SERVICE_SCOPES, USER_TOKEN_SCOPES
from tests.assistant.conftest import RunningHub

pytestmark = pytest.mark.hub


def cli_env(hub: RunningHub) -> list[str]:
    return ["--config", str(hub.loaded.path), "--state-dir", str(hub.loaded.state_dir)]


def mint(cli, hub: RunningHub, user: str, *extra: str) -> dict:
    code, out, err = cli(*cli_env(hub), "token", "--user", user, *extra, "--json")
    assert code == 0, err
    return json.loads(out)


def test_the_service_may_mint_user_tokens_and_nothing_more_was_added() -> None:
    assert API_SERVICE_SCOPES == ["admin:users", "servers", "access:servers", "tokens"]
    assert USER_TOKEN_SCOPES == ["servers!user", "access:servers!user", "read:users!user"]


def test_token_for_a_new_user_creates_the_user_and_expires_when_asked(cli, running_hub: RunningHub) -> None:
    with running_hub.client() as hub:
        assert not hub.user_exists("tok_new")
    minted = mint(cli, running_hub, "tok_new", "--expires-in", "600")
    assert minted["user"] == "tok_new" and minted["token"] and minted["token"] != running_hub.token
    expires = datetime.fromisoformat(minted["expires_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=500) < expires - datetime.now(UTC) <= timedelta(seconds=600)
    # the hub expanded exactly our scopes for this one user, and no admin scope
    assert set(minted["scopes"]) >= {"servers!user=tok_new", "access:servers!user=tok_new", "read:users!user=tok_new"}
    assert all(s.endswith("!user=tok_new") for s in minted["scopes"])
    assert not any(s.startswith(("admin", "tokens", "read:tokens", "list:")) for s in minted["scopes"])
    with HubClient(running_hub.hub.url, minted["token"]) as as_user:
        whoami = as_user.request("GET", "/user").json()
    assert whoami["name"] == "tok_new" and whoami["kind"] == "user"


def test_plain_text_output_is_the_token_alone(cli, running_hub: RunningHub) -> None:
    code, out, err = cli(*cli_env(running_hub), "token", "--user", "tok_plain")
    assert code == 0, err
    token = out.strip()
    assert len(token) >= 32 and " " not in token
    assert token not in err and "servers!user" in err
    with HubClient(running_hub.hub.url, token) as as_user:
        assert as_user.request("GET", "/user").json()["name"] == "tok_plain"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--user", "Bad.Name"], "invalid user name 'Bad.Name'"),
        (["--user", "x", "--expires-in", "5"], "--expires-in 5"),
        (["--user", "x", "--expires-in", str(40 * 86400)], "30 days"),
        (["--expires-in", "600"], "add --user"),
    ],
)
def test_bad_input_is_one_line_and_creates_nothing(cli, running_hub: RunningHub, argv: list[str], message: str) -> None:
    code, out, err = cli(*cli_env(running_hub), "token", *argv)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    with running_hub.client() as hub:
        assert not hub.user_exists("x")


def test_a_user_token_runs_the_whole_library_flow_for_its_user(cli, running_hub: RunningHub) -> None:
    token = mint(cli, running_hub, "tok_ann")["token"]
    with HubClient(running_hub.hub.url, token) as hub, Interpreter(hub, "tok_ann", "c1") as it:
        assert hub.ensure_user("tok_ann") is False  # exists: no admin:users needed
        result = it.execute("x = 6 * 7\nprint(x)")
        assert result.stdout == "42\n"
        it.upload("data.bin", b"\x00\xff")
        assert it.download("data.bin") == b"\x00\xff"
        it.flush()
        assert it.list_files() and {f.name for f in it.list_files()} >= {"c1.ipynb", "data.bin"}
        assert hub.stop_server("tok_ann", "c1", remove=True) is True
        assert hub.server("tok_ann", "c1") is None
    assert (running_hub.folder("tok_ann", "c1") / "data.bin").read_bytes() == b"\x00\xff"


def test_a_user_token_cannot_reach_another_user(cli, running_hub: RunningHub) -> None:
    with running_hub.client() as service, Interpreter(service, "tok_bob", "secret") as bob:
        bob.execute("open('private.txt', 'w').write('bob only')")
        bob_server = bob.start().server
    token = mint(cli, running_hub, "tok_eve")["token"]
    headers = {"Authorization": f"token {token}"}
    api = f"{running_hub.hub.url}/hub/api"
    # bob's model, servers and tokens are invisible; new users and new tokens are refused
    assert httpx.get(f"{api}/users/tok_bob", headers=headers).status_code == 404
    assert httpx.post(f"{api}/users/tok_bob/servers/other", headers=headers, json={}).status_code == 404
    assert httpx.delete(f"{api}/users/tok_bob/servers/secret", headers=headers).status_code == 404
    assert httpx.post(f"{api}/users/tok_mallory", headers=headers).status_code == 403
    assert httpx.get(f"{api}/users", headers=headers).status_code == 403
    assert httpx.post(f"{api}/users/tok_eve/tokens", headers=headers, json={}).status_code == 403
    # bob's running server, through the proxy: no contents, no kernels
    for path in ("api/contents/private.txt", "api/kernels", "api/sessions"):
        resp = httpx.get(f"{bob_server.url}{path}", headers=headers, follow_redirects=False)
        assert resp.status_code in (302, 403), (path, resp.status_code)
        assert "bob only" not in resp.text
    # and the library says so in one line
    with HubClient(running_hub.hub.url, token) as as_eve:
        with pytest.raises(HubError, match="refused the API token"):
            as_eve.ensure_user("tok_mallory")
        assert as_eve.server("tok_bob", "secret") is None
    with running_hub.client() as service:
        assert service.server("tok_bob", "secret") is not None  # untouched
        assert not service.user_exists("tok_mallory")

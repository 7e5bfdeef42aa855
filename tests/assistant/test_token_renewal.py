"""The MCP server's per-user token is renewed before it runs out, and the session then uses the new one."""

from __future__ import annotations

import time

import pytest

from jhubctl.hubapi.client import Token
from jhubctl.hubapi.tokens import UserToken


def minter(tokens: list[str]):
    def mint() -> Token:
        return Token(user="u", id=f"a{len(tokens)}", token=tokens.pop(0), scopes=[], expires_at=None, note="n")
    return mint


def test_a_minted_token_is_renewed_before_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    token = UserToken.minted(minter(["first", "second"]), expires_in=600)
    assert token.token == "first" and not token.stale()
    now[0] += 600 - 301  # more than five minutes left
    assert not token.stale()
    now[0] += 2  # under five minutes left
    assert token.stale()
    token.renew()
    assert token.token == "second" and not token.stale()


def test_a_token_handed_in_is_never_renewed(monkeypatch: pytest.MonkeyPatch) -> None:
    token = UserToken("given", expires_in=60)
    monkeypatch.setattr(time, "monotonic", lambda: 10.0**9)
    assert not token.stale()


def test_the_mcp_session_switches_to_the_renewed_token(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mcp")
    from jhubctl.config import ServersConfig
    from jhubctl.integrations.mcp import UserHub

    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    hub = UserHub("http://hub.test", "alice", UserToken.minted(minter(["t1", "t2"]), 600), ServersConfig())
    first = hub.current()
    assert first.hub.token == "t1"
    now[0] += 599
    assert hub.current().hub.token == "t2" and hub.current() is first  # same session, new client
    hub.close()

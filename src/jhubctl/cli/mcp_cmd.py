"""`jhubctl mcp`: the hub as an MCP server for one user (stdio, or streamable HTTP behind a bearer token)."""

from __future__ import annotations

import importlib.util
import json
from typing import Annotated

import typer

from .context import JsonFlag, app_context

#: The bearer token an HTTP-served MCP server requires; an environment variable, never an argument (argv is public).
MCP_TOKEN_ENV = "JHUBCTL_MCP_TOKEN"


def _address(value: str) -> tuple[str, int]:
    from ..errors import UsageError

    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--http {value!r}: expected HOST:PORT, such as 127.0.0.1:8765")
    return host.strip("[]"), int(port)


def mcp(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="The one user whose conversations the tools reach.")],
    http: Annotated[str | None, typer.Option("--http", metavar="HOST:PORT",
                                             help=f"Serve streamable HTTP here instead of stdio; clients must send "
                                                  f"'Authorization: Bearer ${MCP_TOKEN_ENV}'.")] = None,
    token_expires_in: Annotated[int, typer.Option("--token-expires-in",
                                                  help="Lifetime of the per-user token it mints; renewed before it "
                                                       "runs out.")] = 3600,
    json_flag: JsonFlag = False,
) -> None:
    """Serve run_code, list_files, read_file, write_file and stop_server to an MCP client, for USER only.

    The server holds a token limited to USER (JHUBCTL_USER_TOKEN, or one minted with the service token), so
    no tool call can reach another user. Status goes to stderr; stdout is the protocol, so with --json
    the announcement is one JSON object on stderr.
    """
    from ..errors import UsageError
    from ..interpreter import validate

    actx = app_context(ctx)
    out = actx.output(json_flag)
    user, _ = validate(user, "x")
    address = _address(http) if http is not None else None
    bearer = actx.env.environ.get(MCP_TOKEN_ENV)
    if address is not None and (not bearer or len(bearer) < 16):
        raise UsageError(f"--http needs a bearer token of at least 16 characters in {MCP_TOKEN_ENV}",
                         hint=f"export {MCP_TOKEN_ENV}=$(openssl rand -hex 24)")
    if importlib.util.find_spec("mcp") is None:
        raise UsageError("the MCP server needs the 'mcp' package", hint="pip install 'jhubctl[mcp]'")
    from ..hubapi.tokens import user_token
    from ..integrations.mcp import UserHub, serve

    url, token = user_token(actx.loaded, user, token_expires_in)
    hub = UserHub(url, user, token, actx.loaded.config.servers)
    where = f"http://{address[0]}:{address[1]}/mcp" if address else "stdio"
    if out.json_mode:
        out.stream(json.dumps({"user": user, "transport": "http" if address else "stdio", "url": where,
                               "hub": url}) + "\n", stderr=True)
    else:
        out.info(f"MCP server for user {user} on {where} (hub {url}); Ctrl-C to stop")
    try:
        serve(hub, address, bearer)
    finally:
        hub.close()


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp)

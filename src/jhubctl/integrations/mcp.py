"""The hub as a Model Context Protocol server (extra `[mcp]`, the official `mcp` SDK): `jhubctl mcp`.

The user is fixed when the server starts, and every tool acts through a token limited to that user
(minted with the service's `tokens` scope, or handed in as JHUBCTL_USER_TOKEN), so nothing a model
asks for can reach another user's servers or files: the hub refuses it, not just this code.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations at run time, and they name
# types imported inside build_server.
import base64
import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from ..errors import UsageError
from ..hubapi.client import HubClient
from ..hubapi.tokens import UserToken
from .session import READ_LIMIT, Session, environment, images, tool_errors

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..config import ServersConfig

Conversation = Annotated[str, Field(description="Conversation id: letters, digits, '-' and '_' (case-insensitive). "
                                                "Each conversation has its own kernel and folder.")]
Path = Annotated[str, Field(description="Path relative to the conversation folder; no '..', not absolute.")]


class UserHub:
    """The user's session through the current per-user token, renewed (and the session rebound) when stale."""

    def __init__(self, url: str, user: str, token: UserToken, servers: "ServersConfig"):
        self.url, self.token = url, token
        self.session = Session(HubClient(url, token.token), user, servers)

    def current(self) -> Session:
        if self.token.stale():
            self.token.renew()
            old = self.session.hub
            self.session.rebind(HubClient(self.url, self.token.token))
            old.close()
        return self.session

    def close(self) -> None:
        self.session.close()
        self.session.hub.close()


@contextmanager
def _as_tool_error() -> Iterator[None]:
    from mcp.server.mcpserver.exceptions import ToolError  # the mcp SDK only when the server runs

    with tool_errors(ToolError):
        yield


def build_server(hub: UserHub, bearer: str | None = None, url: str = "http://127.0.0.1") -> "MCPServer":
    """The MCP server and its five tools; with `bearer`, HTTP requests must carry that token (stdio needs none)."""
    from mcp.server import MCPServer
    from mcp.server.auth.settings import AuthSettings
    from mcp_types import CallToolResult, ImageContent, TextContent, ToolAnnotations

    servers = hub.session.servers
    user = hub.session.user
    about = environment(servers) + f" All tools act for the user {user!r} and can reach only that user's files."
    auth = AuthSettings(issuer_url=url, resource_server_url=None) if bearer else None
    app = MCPServer("jhubctl", instructions=about, auth=auth, log_level="WARNING",
                               token_verifier=StaticBearer(bearer) if bearer else None)

    def run_code(
        conversation: Conversation,
        code: Annotated[str, Field(description="Python source to run in the conversation's kernel.")],
        timeout: Annotated[float | None, Field(description=f"Seconds before the code is interrupted "
                                                            f"(default {servers.exec_timeout:g}).", gt=0)] = None,
    ) -> CallToolResult:
        with _as_tool_error():
            run = hub.current().run(conversation, code, timeout, files=False)  # list_files is one call away
        content: list[Any] = [TextContent(type="text", text=run.text())]
        content += [ImageContent(type="image", data=data, mime_type=mime) for mime, data in images(run.result)]
        return CallToolResult(content=content, structured_content=run.as_dict())

    def list_files(conversation: Conversation, path: Path = "") -> dict[str, Any]:
        with _as_tool_error():
            return {"files": [e.as_dict() for e in hub.current().list_files(conversation, path)]}

    def read_file(conversation: Conversation, path: Path) -> CallToolResult:
        with _as_tool_error():
            data = hub.current().read_file(conversation, path)
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(data).decode(), "base64"
        return CallToolResult(content=[TextContent(type="text", text=text)],
                              structured_content={"path": path, "encoding": encoding, "size": len(data)})

    def write_file(
        conversation: Conversation, path: Path,
        content: Annotated[str, Field(description="The file's content: text, or base64 for binary data.")],
        encoding: Annotated[str, Field(description="'utf-8' (text) or 'base64' (binary).",
                                       pattern="^(utf-8|base64)$")] = "utf-8",
    ) -> dict[str, Any]:
        with _as_tool_error():
            try:
                data = base64.b64decode(content, validate=True) if encoding == "base64" else content.encode("utf-8")
            except ValueError:
                raise UsageError("content is not valid base64") from None
            return hub.current().write_file(conversation, path, data).as_dict()

    def stop_server(conversation: Conversation) -> dict[str, Any]:
        with _as_tool_error():
            stopped = hub.current().stop_server(conversation)
        return {"conversation": conversation, "stopped": stopped}

    tools: list[tuple[Callable[..., Any], str, ToolAnnotations]] = [
        (run_code, "Run Python code in the conversation's kernel and return stdout, stderr, the value of the last "
         "expression, the error with a short traceback, displayed images, and the notebook the run was saved to. "
         "Starts the conversation's server if needed (the first call may take a few seconds). Use list_files to "
         "see files the code wrote. " + about, ToolAnnotations(title="Run Python", open_world_hint=False)),
        (list_files, "List files and folders in the conversation folder (or a folder inside it), with sizes and "
         "modification times.", ToolAnnotations(title="List files", read_only_hint=True)),
        (read_file, f"Read a file from the conversation folder: text as is, other files as base64. At most "
         f"{READ_LIMIT // 1024} KiB; read parts of larger files with run_code.",
         ToolAnnotations(title="Read file", read_only_hint=True)),
        (write_file, "Write a file into the conversation folder (replacing it if it exists; missing folders are "
         "created), where the code run by run_code can open it.", ToolAnnotations(title="Write file",
                                                                                destructive_hint=True)),
        (stop_server, "Stop the conversation's server: its kernel and variables are lost, its files are kept. "
         "The next run_code starts it again.", ToolAnnotations(title="Stop server", destructive_hint=True,
                                                                 idempotent_hint=True)),
    ]
    for fn, description, annotations in tools:
        app.add_tool(fn, description=description, annotations=annotations, structured_output=False)
    return app


class StaticBearer:
    """The one bearer token an HTTP-served MCP server accepts (compared in constant time)."""

    def __init__(self, token: str):
        self._token = token

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        if hmac.compare_digest(token.encode(), self._token.encode()):
            return AccessToken(token=token, client_id="jhubctl-mcp", scopes=[])
        return None


def serve(hub: UserHub, http: tuple[str, int] | None = None, bearer: str | None = None) -> None:
    """Serve over stdio, or over streamable HTTP at `http` behind `bearer`. Blocks until the client goes away."""
    import anyio

    if http is None:
        anyio.run(build_server(hub).run_stdio_async)
        return
    import uvicorn

    if not bearer:
        raise UsageError("an MCP server on HTTP needs a bearer token")
    host, port = http
    app = build_server(hub, bearer, f"http://{host}:{port}").streamable_http_app(host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning")

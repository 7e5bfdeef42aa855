"""LangChain tools (extra `[langchain]`, on `langchain-core`): the Python twin of the guide's `CodeInterpreter`.

    from jhubctl.hubapi.client import HubClient
    from jhubctl.integrations.langchain import code_interpreter_tools
    tools = code_interpreter_tools(HubClient(url, token), "alice", "c-42")   # [python, conversation_files]

Unlike the guide's tool it has a timeout that interrupts the kernel (which keeps its variables), real
execution counts, every image type, the notebook saved cell by cell, and files in both directions. Both
tools are sync and async (the async side runs the blocking call in a thread). Errors the model can act on
(a bad path, a missing file) come back as the tool's answer, not as an exception in the agent.
"""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from ..errors import UsageError
from .session import READ_LIMIT, Session, environment, images, tool_errors

if TYPE_CHECKING:
    from ..config import ServersConfig
    from ..hubapi.client import HubClient


class RunCode(BaseModel):
    code: str = Field(description="Python source to run in the conversation's kernel.")
    timeout: float | None = Field(None, gt=0, description="Seconds before the code is interrupted.")


class FileAction(BaseModel):
    action: Literal["list", "read", "write"] = Field(description="list a folder, read a file, or write a file.")
    path: str = Field("", description="Path relative to the conversation folder (no '..', not absolute).")
    content: str | None = Field(None, description="For write: the file's content (text, or base64 with "
                                                  "encoding='base64').")
    encoding: Literal["utf-8", "base64"] = Field("utf-8", description="For write: how `content` is given.")


class CodeInterpreterTool(BaseTool):
    """Runs Python in one conversation's kernel; the answer is text, the artifact the structured run."""

    name: str = "python"
    description: str = ""
    args_schema: type[BaseModel] = RunCode
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool = True
    session: Session
    conversation: str

    def _run(self, code: str, timeout: float | None = None, run_manager: Any = None) -> tuple[str, dict[str, Any]]:
        with tool_errors(ToolException):
            run = self.session.run(self.conversation, code, timeout)
        artifact = {**run.as_dict(), "images": [{"mime_type": m, "data": d} for m, d in images(run.result)]}
        return run.text(), artifact

    async def _arun(self, code: str, timeout: float | None = None, run_manager: Any = None) -> tuple[str, dict[str, Any]]:
        return await asyncio.to_thread(self._run, code, timeout)


class FilesTool(BaseTool):
    """Lists, reads and writes files of the same conversation folder the code runs in."""

    name: str = "conversation_files"
    description: str = ""
    args_schema: type[BaseModel] = FileAction
    handle_tool_error: bool = True
    session: Session
    conversation: str

    def _run(self, action: str, path: str = "", content: str | None = None, encoding: str = "utf-8",
             run_manager: Any = None) -> str:
        with tool_errors(ToolException):
            if action == "list":
                entries = self.session.list_files(self.conversation, path)
                return "\n".join(f"{e.path}{'/' if e.type == 'directory' else ''}\t{e.size or ''}" for e in entries) \
                    or "(empty folder)"
            if action == "read":
                data = self.session.read_file(self.conversation, path)
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    return "base64:" + base64.b64encode(data).decode()
            if content is None:
                raise UsageError("write needs `content`")
            try:
                raw = base64.b64decode(content, validate=True) if encoding == "base64" else content.encode("utf-8")
            except ValueError:
                raise UsageError("content is not valid base64") from None
            entry = self.session.write_file(self.conversation, path, raw)
            return f"wrote {entry.path} ({entry.size} bytes)"

    async def _arun(self, action: str, path: str = "", content: str | None = None, encoding: str = "utf-8",
                    run_manager: Any = None) -> str:
        return await asyncio.to_thread(self._run, action, path, content, encoding)


def code_interpreter_tools(hub: HubClient, user: str, conversation: str,
                           servers: ServersConfig | None = None) -> list[BaseTool]:
    """The code tool and its files companion, bound to (hub, user, conversation), sharing one warm kernel.

    `hub` may hold the service token or a per-user token (`jhubctl token --user`); the latter keeps an
    agent to that one user's servers.
    """
    session = Session(hub, user, servers)
    session.conversation(conversation)  # validates the id now, not at the model's first call
    about = environment(session.servers)
    run = CodeInterpreterTool(
        session=session, conversation=conversation,
        description="Run Python code and get back stdout, stderr, the value of the last expression, the error with a "
        "short traceback, how many images were displayed, and the files the code produced. " + about,
    )
    files = FilesTool(
        session=session, conversation=conversation,
        description="Files of the folder the Python code runs in: action 'list' (a folder), 'read' (a file: text as "
        f"is, other files as 'base64:...'; at most {READ_LIMIT // 1024} KiB), 'write' (creates or replaces a file; "
        "content as text, or base64 with encoding='base64'). Use it to hand data to the code, or to read results.",
    )
    return [run, files]

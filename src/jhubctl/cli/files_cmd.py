"""`jhubctl files ls|put|get|rm`: a conversation's folder, through its server's contents API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .context import JsonFlag, app_context
from .servers_cmd import Conversation, User

if TYPE_CHECKING:
    from ..interpreter import Interpreter
    from .context import AppContext

app = typer.Typer(help="Files of a conversation: list, upload, download, remove (paths relative to its folder).",
                  no_args_is_help=True)

Remote = Annotated[str, typer.Argument(help="Path inside the conversation folder (no '..', not absolute).")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing file.")]


@contextmanager
def _interpreter(actx: AppContext, user: str, conversation: str) -> Iterator[Interpreter]:
    from ..hubapi.connect import connect
    from ..interpreter import interpreter_for, validate

    validate(user, conversation)  # a bad name is the user's error even when no hub is reachable
    with connect(actx.loaded) as hub, interpreter_for(hub, actx.loaded.config.servers, user, conversation) as it:
        yield it


@app.command("ls")
def ls(ctx: typer.Context, user: User, conversation: Conversation,
       path: Annotated[str, typer.Argument(help="Folder (or file) inside the conversation.")] = "",
       json_flag: JsonFlag = False) -> None:
    """List the conversation folder (or a folder inside it)."""
    from ..hubapi.contents import clean_path

    actx = app_context(ctx)
    out = actx.output(json_flag)
    path = clean_path(path, root_ok=True)
    with _interpreter(actx, user, conversation) as it:
        entries = it.list_files(path)
    if out.json_mode:
        out.data([e.as_dict() for e in entries])
        return
    if not entries:
        out.info(f"{path or 'the conversation folder'} is empty")
        return
    out.table(["NAME", "TYPE", "SIZE", "MODIFIED"],
              [[e.path + ("/" if e.type == "directory" else ""), e.type, e.size, e.last_modified] for e in entries],
              whole=["NAME"])


@app.command("put")
def put(ctx: typer.Context, user: User, conversation: Conversation,
        local: Annotated[Path, typer.Argument(help="Local file to upload.", exists=True, dir_okay=False,
                                              readable=True)],
        path: Annotated[str | None, typer.Argument(help="Where in the conversation (default: the file's name).")] = None,
        overwrite: Overwrite = False, json_flag: JsonFlag = False) -> None:
    """Upload LOCAL into the conversation folder, byte for byte (large files in chunks, with progress)."""
    from ..hubapi.contents import clean_path

    actx = app_context(ctx)
    out = actx.output(json_flag)
    path = clean_path(path if path is not None else local.name)
    with _interpreter(actx, user, conversation) as it, out.progress(f"uploading {path}", total=100) as bar:
        entry = it.upload(path, local, overwrite=overwrite,
                          on_progress=lambda done, total: bar.update(100 * done / max(total, 1), _bytes(done)))
    out.success(f"{local} -> {it.user}/{it.conversation}/{entry.path} ({_bytes(entry.size or 0)})")
    out.data(entry.as_dict())


@app.command("get")
def get(ctx: typer.Context, user: User, conversation: Conversation, path: Remote,
        local: Annotated[Path | None, typer.Argument(help="Local file to write (default: ./<file name>).")] = None,
        overwrite: Overwrite = False, json_flag: JsonFlag = False) -> None:
    """Download PATH from the conversation folder to LOCAL (written whole or not at all)."""
    from ..hubapi.contents import clean_path

    actx = app_context(ctx)
    out = actx.output(json_flag)
    path = clean_path(path)
    target = local if local is not None else Path(path.rsplit("/", 1)[-1])
    if target.is_dir():
        target = target / path.rsplit("/", 1)[-1]
    with _interpreter(actx, user, conversation) as it, out.progress(f"downloading {path}", total=100) as bar:
        size = it.files().download_to(path, target, overwrite=overwrite,
                                      on_progress=lambda done, total: bar.update(100 * done / max(total, 1), _bytes(done)))
    out.success(f"{it.user}/{it.conversation}/{path} -> {target} ({_bytes(size)})")
    out.data({"path": path, "local": str(target), "size": size})


@app.command("rm")
def rm(ctx: typer.Context, user: User, conversation: Conversation, path: Remote, json_flag: JsonFlag = False) -> None:
    """Remove PATH from the conversation folder (an empty folder, or a file)."""
    from ..hubapi.contents import clean_path

    actx = app_context(ctx)
    out = actx.output(json_flag)
    path = clean_path(path)
    with _interpreter(actx, user, conversation) as it:
        it.remove(path)
    out.success(f"removed {it.user}/{it.conversation}/{path}")
    out.data({"path": path, "removed": True})


def _bytes(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1048576:.1f} MiB"


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="files")

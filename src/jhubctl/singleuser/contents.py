"""The servers' contents manager: jupyter-server's own, refusing paths that resolve outside the folder.

jupyter-server checks API paths lexically (`abspath`), so a symlink inside a conversation folder that points
elsewhere is followed, by the contents API and by `/files/`. On the local target every conversation
folder shares one file system, so such a link would hand another conversation's files to `files get`.
This manager resolves links first and answers 404 with jupyter-server's own words, as for `..`.
On a cluster a server mounts only its own conversation's sub-path, so there is nothing of another user to
reach, but a link still could hand out the image's own files: the servers there run it too.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.base.handlers import AuthenticatedFileHandler
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import default


def _inside(root: str, path: str) -> bool:
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root + os.sep)


class ConfinedFileHandler(AuthenticatedFileHandler):
    """`/files/`: tornado's static handler, refusing a link that leaves the root."""

    def validate_absolute_path(self, root: str, absolute_path: str) -> str:
        path = super().validate_absolute_path(root, absolute_path)
        if path is None or not _inside(root, path):
            raise web.HTTPError(404)
        return path


class ConfinedContentsManager(AsyncLargeFileManager):
    """The default manager of jupyter-server 2, with symlinks that leave `root_dir` refused."""

    @default("files_handler_class")
    def _files_handler_class_default(self) -> Any:
        return ConfinedFileHandler

    def _get_os_path(self, path: str) -> str:
        os_path: str = super()._get_os_path(path)
        if not _inside(self.root_dir, os_path):
            raise web.HTTPError(404, f"{path} is outside root contents directory")
        return os_path

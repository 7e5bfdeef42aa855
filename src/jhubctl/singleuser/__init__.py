"""What runs inside a user's Jupyter server: jhubctl's plugins to jupyter-server, on every target.

``kernelws.NoDelayConnection`` answers kernel messages without Nagle's delay; ``contents.
ConfinedContentsManager`` refuses symlinks that leave the conversation folder; ``check`` is the build-time
test that a server environment can run them. This package is copied alone (beside an empty
``jhubctl/__init__.py``) into the local target's venv and into the singleuser image, where the rest of
jhubctl is not installed: it imports jupyter-server and the standard library only, and this file imports
nothing, so the hub's side can read `OPTIONS` without loading jupyter-server.
"""

#: The jupyter-server options that load the plugins; every user server gets them, on every target.
OPTIONS = (
    "--ServerApp.contents_manager_class=jhubctl.singleuser.contents.ConfinedContentsManager",
    "--ServerApp.kernel_websocket_connection_class=jhubctl.singleuser.kernelws.NoDelayConnection",
)

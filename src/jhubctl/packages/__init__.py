"""The code interpreter's package set: one lock, resolved by uv, installed in the image and the local venv.

`ensure_lock(loaded)` is the entry point for whatever installs the set: it returns the `Lock` (its
path, content hash, the pinned requirements with their hashes, and the JupyterHub single-user
version they carry), resolving it first only if the config's input changed. `venv` builds the local
target's server environment from it. (`jhubctl.interpreter` is something else: the library face for
assistants.)
"""

from .lock import Lock, LockInput, describe, ensure_lock, jupyterhub_version, lock_path, read_lock

__all__ = ["Lock", "LockInput", "describe", "ensure_lock", "jupyterhub_version", "lock_path", "read_lock"]

"""What runs inside the hub: the conversation spawner and the authenticator that checks names.

One folder per (user, conversation), validated before anything is made. This package is copied
alone into the hub image (beside an empty ``jhubctl/__init__.py``), so it imports nothing from the
rest of jhubctl. Only the naming helpers are re-exported here: the spawner classes live in
``jhubctl.spawner.kube`` (needs kubespawner, present in the hub image only) and
``jhubctl.spawner.local`` (the embedded local target, which has no kubespawner), the authenticator in
``jhubctl.spawner.auth``. Importing this package must work, and stay cheap, on both.
"""

from . import naming
from .naming import *  # noqa: F403 - the package's public names are naming's

__all__ = naming.__all__

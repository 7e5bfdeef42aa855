"""The conversation spawner: one folder per (user, conversation), validated before anything is made.

This package is copied alone into the hub image (beside an empty ``jhubctl/__init__.py``), so it
imports nothing from the rest of jhubctl. Only the naming helpers are re-exported here: the spawner
classes live in ``jhubctl.spawner.kube`` (needs kubespawner, present in the hub image only) and
``jhubctl.spawner.local`` (the embedded local target, which has no kubespawner). Importing this
package must work, and stay cheap, on both.
"""

from .naming import (
    ALLOWED_DESCRIPTION,
    CONVERSATION_OPTION_KEYS,
    ESCAPED_HYPHEN_LENGTH,
    MAX_CONVERSATION_LENGTH,
    MAX_ESCAPED_LENGTH,
    MAX_NAME_LENGTH,
    MAX_USER_LENGTH,
    InvalidName,
    SpawnTarget,
    conversation_subpath,
    escaped_length,
    normalize_conversation,
    normalize_user,
    resolve_conversation,
    spawn_target,
)

__all__ = [
    "ALLOWED_DESCRIPTION",
    "CONVERSATION_OPTION_KEYS",
    "ESCAPED_HYPHEN_LENGTH",
    "MAX_CONVERSATION_LENGTH",
    "MAX_ESCAPED_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_USER_LENGTH",
    "InvalidName",
    "SpawnTarget",
    "conversation_subpath",
    "escaped_length",
    "normalize_conversation",
    "normalize_user",
    "resolve_conversation",
    "spawn_target",
]

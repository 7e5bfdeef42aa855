"""User names and conversation ids: the one place that decides what is allowed.

Why so strict
-------------
A user name and a conversation id end up in four places at once, and each has its own rules:

* a folder on the shared volume (``<user>/conversations/<conversation>``): no path separators, no
  dot-segments, nothing that could climb out of the user's own folder;
* a JupyterHub server name and URL (``/user/<user>/<conversation>/``);
* Kubernetes objects made by KubeSpawner 6.1.0 from the *raw* hub names;
* the local target's folders, where a name must mean the same thing on every file system.

So a name is plain ASCII ``a-z``, ``0-9``, ``-`` and ``_``, starting and ending with a letter or digit.
``_`` is there because identity systems and the seed's own client produce it (``x@example.com`` becomes
``x_example_com``); ``.`` and ``@`` are not, because ``.`` makes dot-segments and both would need
escaping in URLs and folder names. Letters are folded to lowercase, but only *after* the ASCII check: ``str.lower()`` turns KELVIN SIGN (U+212A)
into ``k``, and Cyrillic ``а`` looks like Latin ``a``; such names must be refused, never folded
into somebody else's name.

Why these lengths
-----------------
KubeSpawner 6.1.0 (``kubespawner/spawner.py``) escapes names with
``escapism.escape(name, safe=a-z0-9, escape_char='-')`` before it puts them into Kubernetes:

* label ``hub.jupyter.org/username`` = escaped user name (``_build_common_labels``), on the pod
  and on any PVC, secret or service it makes;
* label ``hub.jupyter.org/servername`` = escaped server name (``_build_pod_labels``); with one
  named server per conversation that is the escaped conversation id;
* pod name ``jupyter-{username}--{servername}`` (``pod_name_template``), PVC name
  ``claim-{username}--{servername}``.

Kubernetes label values are at most 63 characters and must start and end with an alphanumeric
character. ``-`` is KubeSpawner's escape character, so every ``-`` in a name becomes ``-2d`` and
every ``_`` becomes ``-5f`` (3 characters each) in the label; any other character outside ``a-z0-9``
(an uppercase letter, too) becomes ``-XX``, which is why names handed to KubeSpawner must already be
lowercase (``Alice`` gives the invalid label ``-41lice``), and why a name may not start or end with
``-`` or ``_`` (the label would start or end with ``-``).

The limit is therefore on the *escaped* length: ``len(name) + 2 * (count of '-' and '_') <= 63``
(``MAX_ESCAPED_LENGTH``). A name without ``-`` may have 63 characters (``MAX_NAME_LENGTH``); a
UUID (36 characters, 4 ``-``) needs 44, so UUIDs always fit. A flat raw limit could not do both:
a raw limit that is safe for the worst case (``a-a-a…``, nearly 3 characters per character) would
be 22 characters and refuse UUIDs.

With both names within the limit the pod name has at most ``8 + 63 + 2 + 63 = 136`` characters of
``a-z0-9-``, starting with ``j`` and ending with an alphanumeric: a valid DNS subdomain (pod names
may have 253). It is longer than a DNS label, which matters only for the per-pod Service that
KubeSpawner creates when ``services_enabled`` or ``internal_ssl`` is on (the chart enables
neither); kubelet truncates the pod's host name to 63 characters by itself.

This module imports nothing but the standard library: it is copied alone into the hub image.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "ALLOWED_DESCRIPTION",
    "CONVERSATION_OPTION_KEYS",
    "ESCAPED_CHAR_LENGTH",
    "MAX_CONVERSATION_LENGTH",
    "MAX_ESCAPED_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_USER_LENGTH",
    "InvalidName",
    "SpawnTarget",
    "conversation_subpath",
    "escaped_length",
    "hub_user",
    "normalize_conversation",
    "normalize_user",
    "resolve_conversation",
    "spawn_target",
]

#: Kubernetes label values (``hub.jupyter.org/username``, ``hub.jupyter.org/servername``) hold at
#: most 63 characters; KubeSpawner puts the escaped names there.
MAX_ESCAPED_LENGTH = 63
#: KubeSpawner escapes ``-`` as ``-2d`` and ``_`` as ``-5f``: each costs 3 characters of a label value.
ESCAPED_CHAR_LENGTH = 3
#: Longest user name (one without ``-`` or ``_``); others are shorter, see ``escaped_length``.
MAX_USER_LENGTH = MAX_ESCAPED_LENGTH
#: Longest conversation id (one without ``-`` or ``_``); a UUID costs 44 of the 63.
MAX_CONVERSATION_LENGTH = MAX_ESCAPED_LENGTH
#: Longest name of either kind.
MAX_NAME_LENGTH = max(MAX_USER_LENGTH, MAX_CONVERSATION_LENGTH)

#: Keys of ``user_options`` that carry the conversation id. ``conversationId`` is what the seed's
#: clients send (to the default server); ``conversation_id`` is the documented spelling.
CONVERSATION_OPTION_KEYS: tuple[str, ...] = ("conversation_id", "conversationId")

ALLOWED_DESCRIPTION = (
    "only a-z, 0-9, '-' and '_' are allowed (1-63 chars, each '-' or '_' counting as 3; "
    "first and last a letter or digit)"
)

#: Characters KubeSpawner must escape, each into three (``-XX``).
_ESCAPED_CHARS = "-_"
_ALLOWED_CHARS = frozenset(string.ascii_letters + string.digits + _ESCAPED_CHARS)
_FIELD_LABELS = {"user": "user name", "conversation": "conversation id"}
_MAX_SHOWN = 40


def _shown(value: object) -> str:
    """repr() of a bad value, cut short: an error message must stay one readable line."""
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return text


class InvalidName(ValueError):
    """A user name or conversation id that may not be used, and why.

    ``str()`` is one line naming the field, the bad value and the reason, so JupyterHub can show it
    as is in the ``failed`` event of the progress stream. The message is fixed when the error is
    made: JupyterHub 4.0.2 (``User.spawn``) overwrites ``reason`` on any spawn error with
    ``'error'`` or ``'timeout'``, and a message rebuilt from the attribute would then say "error".
    """

    field: str
    value: object
    reason: str
    source: str | None

    #: The hub's API error handler renders ``log_message % args`` as the ``message`` of a failed start
    #: POST; with this, a spawn refused within the hub's slow_spawn_timeout answers with our words.
    log_message = "%s"

    @property
    def jupyterhub_message(self) -> str:
        """What the hub puts after "Spawn failed: " in the progress stream's ``failed`` event."""
        return str(self)

    def __init__(self, field: str, value: object, reason: str, *, source: str | None = None) -> None:
        if field not in _FIELD_LABELS:
            raise ValueError(f"field must be one of {sorted(_FIELD_LABELS)}, not {field!r}")
        self.field = field
        self.value = value
        self.reason = reason
        self.source = source
        label = _FIELD_LABELS[field]
        where = f" (from {source})" if source else ""
        if value is _MISSING:
            message = f"missing {label}{where}: {reason}"
        else:
            message = f"invalid {label} {_shown(value)}{where}: {reason}"
        super().__init__(message)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def escaped_length(name: str) -> int:
    """Length of ``name`` once KubeSpawner escapes it for a label (``-`` becomes ``-2d``, ``_`` ``-5f``).

    Only meaningful for names made of ``a-z0-9-_``, which is all this module lets through.
    """
    return len(name) + (ESCAPED_CHAR_LENGTH - 1) * sum(name.count(c) for c in _ESCAPED_CHARS)


def _describe_char(char: str) -> str:
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    return f"{char!r} ({code} {name})" if name else f"{char!r} ({code})"


def _refusal(value: object) -> str | None:
    """Why ``value`` is not a valid name, or None when it is. Checks run in the order of the docs."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}; {ALLOWED_DESCRIPTION}"
    if value == "":
        return f"is empty; {ALLOWED_DESCRIPTION}"
    # Before any case folding: str.lower() maps some non-ASCII letters onto ASCII ones.
    for char in value:
        if not char.isascii():
            return f"contains the non-ASCII character {_describe_char(char)}; {ALLOWED_DESCRIPTION}"
    for char in value:
        if unicodedata.category(char) == "Cc":
            return f"contains the control character {char!r}; {ALLOWED_DESCRIPTION}"
    if any(char.isspace() for char in value):
        return f"contains whitespace; {ALLOWED_DESCRIPTION}"
    for sep in ("/", "\\"):
        if sep in value:
            return f"contains the path separator {sep!r}; {ALLOWED_DESCRIPTION}"
    if value in (".", ".."):
        return f"is a dot-segment; {ALLOWED_DESCRIPTION}"
    if "." in value:
        return f"contains '.'; {ALLOWED_DESCRIPTION}"
    for char in value:
        if char not in _ALLOWED_CHARS:
            return f"contains {char!r}; {ALLOWED_DESCRIPTION}"
    if value[0] in _ESCAPED_CHARS:
        return f"starts with {value[0]!r}; {ALLOWED_DESCRIPTION}"
    if value[-1] in _ESCAPED_CHARS:
        return f"ends with {value[-1]!r}; {ALLOWED_DESCRIPTION}"
    cost = escaped_length(value)
    if cost > MAX_ESCAPED_LENGTH:
        return (
            f"too long: counts {cost} with each '-' or '_' as 3 (KubeSpawner escapes them as '-2d' and "
            f"'-5f' in Kubernetes labels, which hold {MAX_ESCAPED_LENGTH}); {ALLOWED_DESCRIPTION}"
        )
    return None


def _normalize(field: str, value: object, source: str | None = None) -> str:
    reason = _refusal(value)
    if reason is not None:
        raise InvalidName(field, value, reason, source=source)
    assert isinstance(value, str)
    return value.lower()


def normalize_user(name: str) -> str:
    """Validate a user name and fold it to lowercase; raise ``InvalidName`` saying why not."""
    return _normalize("user", name)


def normalize_conversation(cid: str) -> str:
    """Validate a conversation id and fold it to lowercase; raise ``InvalidName`` saying why not."""
    return _normalize("conversation", cid)


def conversation_subpath(user: str, conversation: str) -> str:
    """The conversation's folder relative to the data root: ``{user}/conversations/{conversation}``.

    The seed's layout, so data written by the seed's spawner stays readable. Both parts are
    normalized here, so the result can never hold ``..``, ``/`` or an empty segment.
    """
    return f"{normalize_user(user)}/conversations/{normalize_conversation(conversation)}"


def resolve_conversation(server_name: str, user_options: Mapping[str, Any]) -> str:
    """The (normalized) conversation a spawn is for.

    Sources, all optional: the named server's name (one server per conversation),
    ``user_options["conversation_id"]`` and the seed's ``user_options["conversationId"]`` (existing
    clients send that to the default server). All given sources must agree after normalization.
    The default server (``server_name == ""``) has no name to fall back on, so it needs an id in
    ``user_options``.
    """
    if not isinstance(server_name, str):
        raise InvalidName(
            "conversation",
            server_name,
            f"the server name must be a string, got {type(server_name).__name__}",
            source="the server name",
        )
    if user_options is None:
        user_options = {}
    if not isinstance(user_options, Mapping):
        raise InvalidName(
            "conversation",
            user_options,
            f"user_options (the start request's JSON body) must be an object, "
            f"got {type(user_options).__name__}",
            source="user_options",
        )

    found: list[tuple[str, str, str]] = []  # (source, raw, normalized)
    if server_name:
        normalized = _normalize("conversation", server_name, "the server name")
        found.append(("the server name", server_name, normalized))
    for key in CONVERSATION_OPTION_KEYS:
        if key not in user_options:
            continue
        source = f"user_options[{key!r}]"
        raw = user_options[key]
        if not isinstance(raw, str):
            kind = "null" if raw is None else type(raw).__name__
            raise InvalidName(
                "conversation", raw, f"{source} must be a string, got {kind}", source=source
            )
        found.append((source, raw, _normalize("conversation", raw, source)))

    if not found:
        raise InvalidName(
            "conversation",
            _MISSING,
            'the default server needs a conversation id: send {"conversation_id": ...} '
            "or start a named server",
        )
    distinct = {normalized for _, _, normalized in found}
    if len(distinct) > 1:
        listing = ", ".join(f"{source} = {_shown(raw)}" for source, raw, _ in found)
        raise InvalidName(
            "conversation",
            found[0][1],
            f"the sources disagree: {listing}; send one id, or the same id everywhere",
        )
    return found[0][2]


class SpawnTarget(NamedTuple):
    """What a validated spawn is for."""

    user: str
    conversation: str
    subpath: str


def hub_user(user_name: str) -> str:
    """Check a name the hub is about to store or use as is: valid and already lowercase.

    The hub keeps a user's name raw (``POST /users/{name}`` does not normalize), and KubeSpawner puts
    it into labels and pod names, so a capital is refused instead of folded: folding would validate
    one name and let the hub use another. The authenticator runs this when a user is created.
    """
    user = normalize_user(user_name)
    if user != user_name:
        raise InvalidName(
            "user",
            user_name,
            f"must be lowercase: the hub uses the name as is in URLs and Kubernetes labels "
            f"(KubeSpawner would escape the capitals); create the user as {user!r}",
        )
    return user


def spawn_target(user_name: str, server_name: str, user_options: Mapping[str, Any]) -> SpawnTarget:
    """Validate a whole spawn request; the check both spawners run before they create anything.

    Stricter than ``normalize_*`` for the hub's own names: KubeSpawner and JupyterHub use the *raw*
    user and server names (labels, pod name, URLs), so those must already be in normalized form
    (lowercase). Folding them here would validate one name and let KubeSpawner use another.
    """
    user = hub_user(user_name)
    if server_name and isinstance(server_name, str):
        server = _normalize("conversation", server_name, "the server name")
        if server != server_name:
            raise InvalidName(
                "conversation",
                server_name,
                f"a named server's name must be lowercase: the hub uses it as is in URLs and "
                f"Kubernetes labels; start the server as {server!r}",
                source="the server name",
            )
    conversation = resolve_conversation(server_name, user_options)
    return SpawnTarget(user, conversation, conversation_subpath(user, conversation))

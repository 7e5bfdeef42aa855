"""naming: what names are accepted, what is refused and with which message."""

from __future__ import annotations

import string

import escapism
import pytest

from jhubctl.spawner import naming
from jhubctl.spawner.naming import (
    MAX_CONVERSATION_LENGTH,
    MAX_ESCAPED_LENGTH,
    MAX_USER_LENGTH,
    InvalidName,
    conversation_subpath,
    escaped_length,
    normalize_conversation,
    normalize_user,
    resolve_conversation,
    spawn_target,
)

UUID = "550e8400-e29b-41d4-a716-446655440000"


def _kubespawner_label(name: str) -> str:
    """What KubeSpawner 6.1.0 puts into hub.jupyter.org/username and .../servername."""
    safe = set(string.ascii_lowercase + string.digits)
    return escapism.escape(name, safe=safe, escape_char="-").lower()


def _at_cost(cost: int, hyphens: int, char: str = "-") -> str:
    """A name of a-z0-9 with `hyphens` single `char` ('-' or '_') that costs exactly `cost` once escaped."""
    length = cost - 2 * hyphens
    chars = ["a"] * length
    for i in range(hyphens):
        chars[1 + 2 * i] = char
    name = "".join(chars)
    assert escaped_length(name) == cost and not name.endswith(char)
    return name


# -- accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (UUID, UUID),
        (UUID.upper(), UUID),
        ("demo-1", "demo-1"),
        ("Demo-1", "demo-1"),
        ("ABC", "abc"),
        ("0", "0"),
        ("a--b", "a--b"),
        ("a_b", "a_b"),  # the seed's client turns every non-alphanumeric run into '_'
        ("x_example_com", "x_example_com"),  # x@example.com after that client
        ("John_Doe_contoso_com", "john_doe_contoso_com"),  # a UPN, folded
        ("0123abc", "0123abc"),  # digits first (object ids, employee numbers)
        ("a__b", "a__b"),
    ],
)
@pytest.mark.parametrize("normalize", [normalize_user, normalize_conversation])
def test_accepted_names_are_folded_to_lowercase(normalize, raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_a_uuid_fits_a_kubespawner_label() -> None:
    assert len(_kubespawner_label(UUID)) == escaped_length(UUID) == 44 <= MAX_ESCAPED_LENGTH


@pytest.mark.parametrize("char", ["-", "_"])
@pytest.mark.parametrize("hyphens", [0, 1, 4, 10])
@pytest.mark.parametrize("normalize", [normalize_user, normalize_conversation])
def test_length_limit_is_exact(normalize, hyphens: int, char: str) -> None:
    at_limit = _at_cost(MAX_ESCAPED_LENGTH, hyphens, char)
    assert normalize(at_limit) == at_limit
    # the limit is the one KubeSpawner's label escaping needs
    assert len(_kubespawner_label(at_limit)) == MAX_ESCAPED_LENGTH

    over = _at_cost(MAX_ESCAPED_LENGTH + 1, hyphens, char)
    with pytest.raises(InvalidName, match="too long") as info:
        normalize(over)
    assert len(_kubespawner_label(over)) == MAX_ESCAPED_LENGTH + 1
    assert info.value.reason.startswith("too long: counts 64")


def test_length_constants() -> None:
    assert MAX_USER_LENGTH == MAX_CONVERSATION_LENGTH == MAX_ESCAPED_LENGTH == 63
    normalize_user("u" * MAX_USER_LENGTH)
    with pytest.raises(InvalidName):
        normalize_user("u" * (MAX_USER_LENGTH + 1))


# -- refused -------------------------------------------------------------------------------------

REFUSED = [
    ("", "is empty"),
    (".", "is a dot-segment"),
    ("..", "is a dot-segment"),
    ("a.b", "contains '.'"),
    ("a/b", "path separator '/'"),
    ("a\\b", "path separator '\\\\'"),
    ("../x", "path separator '/'"),
    ("x/..", "path separator '/'"),
    (" a", "whitespace"),
    ("a b", "whitespace"),
    ("a\u00a0b", "non-ASCII"),
    ("-a", "starts with '-'"),
    ("a-", "ends with '-'"),
    ("-", "starts with '-'"),
    ("_a", "starts with '_'"),
    ("a_", "ends with '_'"),
    ("a@b", "contains '@'"),
    ("x@example.com", "contains '.'"),
    ("caf\u00e9", "non-ASCII character 'é' (U+00E9"),
    ("\u0430bc", "U+0430 CYRILLIC SMALL LETTER A"),  # looks like Latin 'abc'
    ("\u212a", "U+212A KELVIN SIGN"),  # lowercases to ASCII 'k'
    ("a\x00b", "control character '\\x00'"),
    ("a\nb", "control character '\\n'"),
    ("a\tb", "control character '\\t'"),
    ("a\x7f", "control character '\\x7f'"),
]


@pytest.mark.parametrize(("raw", "reason"), REFUSED)
def test_refused_conversation_ids_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidName) as info:
        normalize_conversation(raw)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.field == "conversation"
    assert error.value == raw
    assert reason in error.reason
    message = str(error)
    assert message.startswith(f"invalid conversation id {raw!r}: ")
    assert reason in message
    assert "only a-z, 0-9, '-' and '_' are allowed" in message
    assert "\n" not in message


@pytest.mark.parametrize(("raw", "reason"), REFUSED)
def test_refused_user_names_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidName) as info:
        normalize_user(raw)
    assert info.value.field == "user"
    assert str(info.value).startswith(f"invalid user name {raw!r}: ")
    assert reason in str(info.value)


def test_kelvin_sign_is_refused_not_folded() -> None:
    # The trap the ASCII check must come before: str.lower() would make it a plain 'k'.
    assert "\u212a".lower() == "k"
    with pytest.raises(InvalidName, match="non-ASCII"):
        normalize_user("\u212aelvin")
    assert normalize_user("Kelvin") == "kelvin"


@pytest.mark.parametrize("value", [None, 42, b"abc", ["a"], {"a": 1}])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidName, match=f"must be a string, got {type(value).__name__}"):
        normalize_conversation(value)  # type: ignore[arg-type]


def test_long_bad_values_are_truncated_in_the_message() -> None:
    with pytest.raises(InvalidName) as info:
        normalize_conversation("../" * 1000)
    message = str(info.value)
    assert len(message) < 250
    assert "…" in message
    assert info.value.value == "../" * 1000  # the attribute keeps the whole value


def test_message_survives_jupyterhub_overwriting_reason() -> None:
    # JupyterHub 4.0.2's User.spawn sets `e.reason = 'error'` on every spawn error before the
    # progress stream shows str(e).
    with pytest.raises(InvalidName) as info:
        normalize_conversation("../x")
    info.value.reason = "error"
    assert "path separator '/'" in str(info.value)
    assert str(info.value).endswith("first and last a letter or digit)")


def test_invalid_name_field_is_checked() -> None:
    with pytest.raises(ValueError, match="field must be one of"):
        InvalidName("server", "x", "nope")


# -- subpath -------------------------------------------------------------------------------------


def test_conversation_subpath_is_the_seed_layout() -> None:
    assert conversation_subpath("alice", UUID) == f"alice/conversations/{UUID}"
    assert conversation_subpath("Alice", "Demo-1") == "alice/conversations/demo-1"


@pytest.mark.parametrize(("user", "conversation"), [("..", "x"), ("alice", "../bob"), ("alice", "")])
def test_conversation_subpath_normalizes_itself(user: str, conversation: str) -> None:
    with pytest.raises(InvalidName):
        conversation_subpath(user, conversation)


# -- resolve_conversation ------------------------------------------------------------------------


def test_conversation_from_named_server() -> None:
    assert resolve_conversation(UUID, {}) == UUID
    assert resolve_conversation("Demo-1", {}) == "demo-1"


def test_conversation_from_conversation_id_option() -> None:
    assert resolve_conversation("", {"conversation_id": "Demo-1"}) == "demo-1"


def test_conversation_from_the_seeds_conversationId_on_the_default_server() -> None:
    assert resolve_conversation("", {"conversationId": UUID}) == UUID


def test_other_options_are_ignored() -> None:
    assert resolve_conversation("", {"conversationId": "c1", "profile": "x", "n": 1}) == "c1"


def test_agreeing_sources_are_accepted() -> None:
    options = {"conversation_id": "DEMO-1", "conversationId": "demo-1"}
    assert resolve_conversation("demo-1", options) == "demo-1"


@pytest.mark.parametrize(
    ("server_name", "options", "named"),
    [
        ("a", {"conversation_id": "b"}, ["the server name = 'a'", "user_options['conversation_id'] = 'b'"]),
        ("a", {"conversationId": "b"}, ["the server name = 'a'", "user_options['conversationId'] = 'b'"]),
        (
            "",
            {"conversation_id": "a", "conversationId": "b"},
            ["user_options['conversation_id'] = 'a'", "user_options['conversationId'] = 'b'"],
        ),
    ],
)
def test_disagreeing_sources_are_refused(server_name: str, options: dict, named: list[str]) -> None:
    with pytest.raises(InvalidName, match="disagree") as info:
        resolve_conversation(server_name, options)
    for part in named:
        assert part in str(info.value)


@pytest.mark.parametrize("options", [{}, None, {"profile": "x"}])
def test_default_server_without_an_id_is_refused(options) -> None:
    with pytest.raises(InvalidName) as info:
        resolve_conversation("", options)
    message = str(info.value)
    assert "the default server needs a conversation id" in message
    assert '{"conversation_id": ...}' in message
    assert "start a named server" in message


@pytest.mark.parametrize("key", ["conversation_id", "conversationId"])
@pytest.mark.parametrize(("value", "kind"), [(None, "null"), (42, "int"), (["x"], "list"), ({}, "dict")])
def test_non_string_option_values_name_the_key(key: str, value: object, kind: str) -> None:
    with pytest.raises(InvalidName) as info:
        resolve_conversation("", {key: value})
    assert f"user_options[{key!r}] must be a string, got {kind}" in str(info.value)


def test_invalid_option_value_names_its_source() -> None:
    with pytest.raises(InvalidName) as info:
        resolve_conversation("", {"conversationId": "../x"})
    assert str(info.value).startswith("invalid conversation id '../x' (from user_options['conversationId']):")


def test_invalid_server_name_names_its_source() -> None:
    with pytest.raises(InvalidName, match=r"\(from the server name\)"):
        resolve_conversation("..", {})


def test_user_options_must_be_an_object() -> None:
    with pytest.raises(InvalidName, match="must be an object, got list"):
        resolve_conversation("c1", ["c1"])  # type: ignore[arg-type]


# -- spawn_target: what both spawners check ------------------------------------------------------


def test_spawn_target() -> None:
    target = spawn_target("alice", "", {"conversationId": "C1"})
    assert target == naming.SpawnTarget("alice", "c1", "alice/conversations/c1")


def test_spawn_target_needs_lowercase_hub_user_names() -> None:
    # KubeSpawner would label the pod '-41lice': refused with the name to use instead.
    assert _kubespawner_label("Alice").startswith("-")
    with pytest.raises(InvalidName, match="create the user as 'alice'") as info:
        spawn_target("Alice", "", {"conversationId": "c1"})
    assert info.value.field == "user"


def test_spawn_target_needs_lowercase_server_names() -> None:
    with pytest.raises(InvalidName, match="start the server as 'demo-1'"):
        spawn_target("alice", "Demo-1", {})


def test_spawn_target_refuses_bad_user_names() -> None:
    with pytest.raises(InvalidName, match="invalid user name '../bob'"):
        spawn_target("../bob", "c1", {})

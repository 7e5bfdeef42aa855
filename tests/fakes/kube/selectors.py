"""Label and field selectors as the list API evaluates them.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists),
``!k`` (does not exist), comma-separated (AND). As in Kubernetes, ``!=`` and ``notin`` also match
objects that do not carry the label at all. Field selectors take ``=``, ``==`` and ``!=`` only, on the
keys the resource type supports (400 otherwise, like the API server).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ_RE = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_NOT_EXISTS_RE = re.compile(rf"^!\s*(?P<key>{_KEY})$")
_EXISTS_RE = re.compile(rf"^(?P<key>{_KEY})$")
_FIELD_RE = re.compile(r"^(?P<key>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*)$")


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present  # "!exists"


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside ``( )`` (``env in (a,b),tier=web``)."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unable to parse requirement: unbalanced ')' in {text!r}")
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth:
        raise SelectorError(f"unable to parse requirement: unbalanced '(' in {text!r}")
    terms.append("".join(current))
    return [t.strip() for t in terms]


def parse_label_selector(text: str | None) -> list[Requirement]:
    if not text or not text.strip():
        return []
    out: list[Requirement] = []
    for term in _split_terms(text):
        if not term:
            raise SelectorError(f"unable to parse requirement: empty term in {text!r}")
        if m := _SET_RE.match(term):
            values = tuple(v.strip() for v in m.group("values").split(","))
            if any(not re.fullmatch(_VALUE, v) for v in values):
                raise SelectorError(f"unable to parse requirement: invalid value in {term!r}")
            out.append(Requirement(m.group("key"), m.group("op"), values))
        elif m := _EQ_RE.match(term):
            op = "!=" if m.group("op") == "!=" else "="
            out.append(Requirement(m.group("key"), op, (m.group("value"),)))
        elif m := _NOT_EXISTS_RE.match(term):
            out.append(Requirement(m.group("key"), "!exists"))
        elif m := _EXISTS_RE.match(term):
            out.append(Requirement(m.group("key"), "exists"))
        else:
            raise SelectorError(f"unable to parse requirement: found {term!r}, expected: key, key=value, key in (values)")
    return out


def parse_field_selector(text: str | None, supported: Iterable[str]) -> list[Requirement]:
    if not text or not text.strip():
        return []
    allowed = set(supported)
    out: list[Requirement] = []
    for term in (t.strip() for t in text.split(",")):
        m = _FIELD_RE.match(term)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        key = m.group("key")
        if key not in allowed:
            raise SelectorError(f'field label not supported: {key}')
        op = "!=" if m.group("op") == "!=" else "="
        out.append(Requirement(key, op, (m.group("value").strip(),)))
    return out


def field_values(obj: Mapping[str, Any], keys: Iterable[str]) -> dict[str, str]:
    """The object's values for the given dotted keys, as strings (missing -> empty string)."""
    out: dict[str, str] = {}
    for key in keys:
        node: Any = obj
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        out[key] = "" if node is None else str(node)
    return out


def matches_all(requirements: Iterable[Requirement], values: Mapping[str, str]) -> bool:
    return all(r.matches(values) for r in requirements)

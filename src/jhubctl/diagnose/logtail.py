"""What the last lines of a crashed container say, in the three shapes operators meet again and again.

* ``exec format error``: the image was built for another CPU than the node's (an arm64 laptop build on
  amd64 nodes): rebuild for the nodes' architecture.
* ``ImportError`` / ``ModuleNotFoundError``: a package the code needs is not in the image (a custom hub
  image without the idle culler, an extraConfig importing something the image lacks).
* a traceback through the hub's config file (or traitlets refusing a value): the last values change
  broke the hub's configuration; rolling back restores the previous values.

Rules are tried in order, the most specific first: an import error raised from the config file is a
missing package, not a config mistake. The table is data, so a new shape is one row and one test row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Lines of a previous log read for a crashed container.
TAIL = 40


@dataclass(frozen=True)
class Cause:
    kind: str  # architecture | package | config
    detail: str  # the module for `package`, the failing line otherwise
    line: str  # the line that decided it


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: re.Pattern[str]
    #: Which group of the match is the detail (0: the whole match).
    group: int | str = 0
    #: Only counts when the log also shows this (None: always).
    context: re.Pattern[str] | None = None


RULES = (
    Rule("architecture", re.compile(r"exec format error")),
    Rule("package", re.compile(r"ModuleNotFoundError: No module named ['\"]?(?P<module>[\w.]+)"), "module"),
    Rule("package", re.compile(r"ImportError: cannot import name ['\"]?\w+['\"]? from ['\"]?(?P<module>[\w.]+)"), "module"),
    Rule("package", re.compile(r"ImportError: No module named ['\"]?(?P<module>[\w.]+)"), "module"),
    # The error that ended a traceback through the config file (extraConfig is exec'd from it).
    Rule("config", re.compile(r"^\s*(?P<error>[\w.]*(?:Error|Exception): .*)$", re.M), "error",
         context=re.compile(r'File "[^"]*jupyterhub_config\.py"')),
    Rule("config", re.compile(r"(?P<error>[\w.]*TraitError: .*)"), "error"),
    Rule("config", re.compile(r"(?P<error>(?:Exception while|Error) loading config file.*)"), "error"),
)


def classify(log: str) -> Cause | None:
    """The cause a log tail shows, or None when it shows none of the known shapes."""
    for rule in RULES:
        if rule.context is not None and not rule.context.search(log):
            continue
        matches = list(rule.pattern.finditer(log))
        if not matches:
            continue
        match = matches[-1]  # the last: what finally killed it
        line = _line_of(log, match.start())
        return Cause(rule.kind, match.group(rule.group).strip() or line, line)
    return None


def _line_of(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start: end if end != -1 else len(text)].strip()


def last_lines(log: str, count: int = 3) -> list[str]:
    """The last non-blank lines, for evidence."""
    return [line.rstrip() for line in log.splitlines() if line.strip()][-count:]

"""docs/troubleshooting.md explains every code diagnose can report, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from jhubctl.diagnose.runner import registry

DOC = (Path(__file__).parents[2] / "docs" / "troubleshooting.md").read_text(encoding="utf-8")


def codes() -> dict[str, str]:
    return {code: title for checks in registry().values() for check in checks for code, title in check.codes().items()}


def sections() -> dict[str, str]:
    parts = re.split(r"^### (JH\d{3}) .*$", DOC, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_code_has_a_section_with_its_meaning_evidence_and_fix() -> None:
    documented = sections()
    assert set(documented) == set(codes()), (set(codes()) ^ set(documented))
    for code, text in documented.items():
        for part in ("**Means**", "**Reads**", "**Fix**"):
            assert part in text, f"{code} has no {part}"


def test_section_titles_begin_the_checks_titles() -> None:
    titles = dict(re.findall(r"^### (JH\d{3}) (.*)$", DOC, flags=re.M))
    for code, title in codes().items():
        assert title.startswith(titles[code]), (code, titles[code], title)


def test_codes_are_stable_and_their_hundred_is_their_area() -> None:
    hundreds = {"local": "1", "azure": "2", "cluster": "3", "hub": "4"}
    for area, checks in registry().items():
        for check in checks:
            assert all(code[2] == hundreds[area] for code in check.codes()), check
    assert len(codes()) == len({*codes()}) == sum(len(c.codes()) for cs in registry().values() for c in cs)


def test_the_seed_table_names_only_codes_that_exist() -> None:
    table = DOC.split("## The seed's troubleshooting", 1)[1]
    named = set(re.findall(r"JH\d{3}", table))
    ranges = re.findall(r"JH(\d{3})-JH(\d{3})", table)
    assert named <= set(codes()) and all(f"JH{a}" in codes() and f"JH{b}" in codes() for a, b in ranges)

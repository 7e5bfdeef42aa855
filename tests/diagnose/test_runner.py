"""The runner's contract: facts fetched once and shared, a failing fact skips its dependants, a broken check
is a skip (not a crash), secrets never reach a finding."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from jhubctl.config import load_config
from jhubctl.diagnose.finding import Finding, Outcome, Report, Skip, fail, ok, redact
from jhubctl.diagnose.runner import Check, Facts, _findings, gate
from jhubctl.errors import JhubctlError


@pytest.fixture
def facts(tmp_path: Path) -> Facts:
    (tmp_path / "jhubctl.yaml").write_text("target: local\n")
    return Facts(load_config(tmp_path / "jhubctl.yaml", environ={}))


def test_a_fact_is_fetched_once_however_many_threads_ask(facts: Facts) -> None:
    calls = []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.05)
        return "pods"

    threads = [threading.Thread(target=facts.once, args=("pods", slow)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and facts.once("pods", slow) == "pods"


def test_a_failed_fact_fails_every_asker_the_same_without_asking_again(facts: Facts) -> None:
    calls = []

    def broken() -> str:
        calls.append(1)
        raise JhubctlError("unreachable")

    for _ in range(3):
        with pytest.raises(Skip) as skipped:
            gate("the API did not answer (JH999)", lambda: facts.once("api", broken))
        assert skipped.value.reason == "the API did not answer (JH999): unreachable"
    assert calls == [1]


def check(func) -> Check:
    return Check("JH999", "local", "a check", func)


def test_a_check_that_raises_is_a_skip_naming_the_error(facts: Facts) -> None:
    def buggy(f: Facts) -> Outcome:
        raise KeyError("spec")

    seen: list[str] = []
    [finding] = _findings(check(buggy), facts, seen.append)
    assert (finding.status, finding.code) == ("skip", "JH999")
    assert finding.summary == "could not check: KeyError: 'spec' (a bug: --debug shows where)"
    assert "Traceback" in seen[0]


def test_an_adapters_error_is_a_skip_with_its_message(facts: Facts) -> None:
    def refused(f: Facts) -> Outcome:
        raise JhubctlError("listing pods failed: 403 Forbidden")

    [finding] = _findings(check(refused), facts, lambda text: None)
    assert finding.status == "skip" and finding.summary == "could not check: listing pods failed: 403 Forbidden"


def test_findings_take_the_checks_code_unless_they_name_another(facts: Facts) -> None:
    found = _findings(check(lambda f: [ok("fine"), fail("cause", code="JH998")]), facts, lambda text: None)
    assert [(f.code, f.status) for f in found] == [("JH999", "ok"), ("JH998", "fail")]


def test_secrets_never_reach_a_finding(facts: Facts) -> None:
    facts.secret("s3cr3t-t0ken-value")

    def leaky(f: Facts) -> Outcome:
        return fail("the hub said s3cr3t-t0ken-value", ["env: JUPYTERHUB_API_TOKEN=s3cr3t-t0ken-value",
                                                         'values: {"apiToken": "another-one"}',
                                                         "header: Authorization: Bearer abc.def.ghi"])

    [finding] = _findings(check(leaky), facts, lambda text: None)
    text = str(finding.as_dict())
    assert "s3cr3t" not in text and "another-one" not in text and "abc.def.ghi" not in text
    assert finding.evidence[1] == 'values: {"apiToken": "<redacted>"}'


@pytest.mark.parametrize(("line", "kept"), [
    ("the hub refuses the API token: it does not know it", True),  # prose about tokens stays
    ("image sha256:" + "a" * 64, True),  # digests are evidence
    ("password=hunter2 user=x", False),
    ("--client-secret=abc", False),
])
def test_redaction_leaves_prose_and_digests(line: str, kept: bool) -> None:
    assert (redact(line) == line) is kept


def test_exit_codes_of_a_report() -> None:
    assert Report([Finding("JH1", "local", "ok", "a"), Finding("JH2", "local", "warn", "b")]).exit_code == 0
    assert Report([Finding("JH1", "local", "fail", "a")]).exit_code == 1
    assert Report([Finding("JH1", "local", "fail", "a")], broken=True).exit_code == 2

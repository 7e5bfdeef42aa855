"""Credentials as an operator meets them: none at all, a tenant to use, a token for one service only."""

from __future__ import annotations

import os
from typing import Any

import pytest

from jhubctl.azure import credentials
from jhubctl.errors import UsageError

from tests.provision.conftest import GRAPH_TOKEN, TOKEN, AzureEnv, assert_one_line_error


def test_no_credential_at_all_is_one_short_line_and_no_request(azure_env: AzureEnv, tmp_path) -> None:
    """The operator's first run: no token, no `az login`, nothing in the environment. A real process, so
    that what the SDK logs reaches stderr as it would on a terminal."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_", "JHUBCTL_"))}
    env.update(HOME=str(tmp_path / "home"), PATH="/nonexistent", JHUBCTL_ARM_ENDPOINT=azure_env.fake.url)
    done = subprocess.run([sys.executable, "-m", "jhubctl", "provision", "--yes"], cwd=azure_env.root, env=env,
                          capture_output=True, text=True, timeout=120)
    code, err = done.returncode, done.stderr

    assert code == 1
    line = assert_one_line_error(err)
    assert line == "error: no Azure credential found", err
    assert "az login" in err and "JHUBCTL_AZURE_ACCESS_TOKEN" in err
    assert len(err) < 200, f"{len(err)} characters:\n{err}"
    assert len(azure_env.fake.requests) == 0


class Recorder:
    """Stands in for DefaultAzureCredential: records how it was built and asked."""

    built: list[dict[str, Any]] = []
    asked: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        Recorder.built.append(kwargs)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        Recorder.asked.append({"scopes": scopes, **kwargs})
        return None

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        Recorder.asked.append({"scopes": scopes, **(options or {})})
        return None


def test_tenant_id_goes_with_every_token_request(monkeypatch) -> None:
    import azure.identity

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", Recorder)
    Recorder.built.clear()
    Recorder.asked.clear()
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

    cred = credentials.arm_credential("https://management.azure.com", tenant, environ={})
    cred.get_token("https://management.azure.com/.default")
    cred.get_token_info("https://management.azure.com/.default")

    assert Recorder.built == [{"additionally_allowed_tenants": [tenant]}]
    assert [a["tenant_id"] for a in Recorder.asked] == [tenant, tenant]
    Recorder.built.clear()
    credentials.arm_credential("https://management.azure.com", None, environ={})
    assert Recorder.built == [{}]


def test_a_static_token_serves_its_own_service_only() -> None:
    cred = credentials.arm_credential("https://management.azure.com", None, environ={"JHUBCTL_AZURE_ACCESS_TOKEN": TOKEN})
    assert cred.get_token("https://management.azure.com/.default").token == TOKEN
    with pytest.raises(UsageError, match="JHUBCTL_AZURE_ACCESS_TOKEN is for"):
        cred.get_token("https://graph.microsoft.com/.default")
    graph = credentials.graph_credential("https://graph.microsoft.com", None,
                                         environ={"JHUBCTL_AZURE_ACCESS_TOKEN": TOKEN,
                                                  "JHUBCTL_GRAPH_ACCESS_TOKEN": GRAPH_TOKEN})
    assert graph.get_token_info("https://graph.microsoft.com/.default").token == GRAPH_TOKEN
    assert "redacted" in repr(cred) and TOKEN not in repr(cred)


def test_a_token_of_another_tenant_is_refused() -> None:
    with pytest.raises(UsageError, match="issued in tenant"):
        credentials.arm_credential("https://management.azure.com", "00000000-1111-2222-3333-444444444444",
                                   environ={"JHUBCTL_AZURE_ACCESS_TOKEN": TOKEN})


def test_only_with_an_unknown_step_is_exit_2_before_config_credential_or_request(azure_env: AzureEnv,
                                                                                  monkeypatch) -> None:
    monkeypatch.delenv("JHUBCTL_AZURE_ACCESS_TOKEN")
    azure_env.write_config({"storage": {"account_name": "Not_Valid"}})  # not even the config is read first

    code, _, err = azure_env.run("provision", "--only", "registyr")

    assert code == 2
    line = assert_one_line_error(err)
    assert "registyr" in line
    assert "resource-group" in err and "csi-driver" in err  # the hint lists the steps
    assert len(azure_env.fake.requests) == 0


def test_completion_offers_the_step_names() -> None:
    import subprocess
    import sys

    env = {**os.environ, "_JHUBCTL_COMPLETE": "complete_bash", "COMP_WORDS": "jhubctl provision --only r",
           "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "jhubctl"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["resource-group", "registry", "role-assignments"]

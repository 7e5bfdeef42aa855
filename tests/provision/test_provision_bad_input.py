"""Bad input stops provision before anything is written: one line saying what is wrong, no traceback.

Config mistakes (names Azure would refuse, address ranges that cannot work, an internet-wide NSG, missing
names) are found before the first request; an unreachable or refusing ARM is found by the one read of the
preflight, before any write.
"""

from __future__ import annotations

from typing import Any

import pytest

from jhubctl.local.process import free_port
from tests.provision.conftest import TOKEN, AzureEnv, assert_one_line_error

#: name: (config change, a word the error must contain).
CONFIG_ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "invalid storage account name": ({"storage": {"account_name": "Jhub_Store-1"}}, "account_name"),
    "storage account name too long": ({"storage": {"account_name": "a" * 25}}, "account_name"),
    "invalid registry name": ({"registry": {"name": "my-acr"}}, "registry.name"),
    "registry name too short": ({"registry": {"name": "acr"}}, "registry.name"),
    "service CIDR overlaps the subnet": (
        {"aks": {"service_cidr": "10.240.0.0/16", "dns_service_ip": "10.240.0.10"}}, "overlaps"),
    "subnet outside the vnet": ({"network": {"subnet_cidr": "192.168.0.0/16"}}, "subnet_cidr"),
    "malformed vnet CIDR": ({"network": {"vnet_cidr": "10.0.0.0/33"}}, "vnet_cidr"),
    "subnet CIDR with host bits": ({"network": {"subnet_cidr": "10.240.0.1/16"}}, "subnet_cidr"),
    "malformed service CIDR": ({"aks": {"service_cidr": "10.0.0/16"}}, "10.0.0/16"),
    "malformed source IP": ({"network": {"allowed_source_ips": ["203.0.113.300"]}}, "203.0.113.300"),
    "DNS IP outside the service CIDR": ({"aks": {"dns_service_ip": "10.1.0.10"}}, "dns_service_ip"),
    "0.0.0.0/0 without allow_any_source": ({"network": {"allowed_source_ips": ["0.0.0.0/0"]}}, "allow_any_source"),
    "* without allow_any_source": ({"network": {"allowed_source_ips": ["203.0.113.7", "*"]}}, "allow_any_source"),
    "missing subscription_id": ({"azure": {"subscription_id": None}}, "azure.subscription_id"),
    "missing storage account name": ({"storage": {"account_name": None}}, "storage.account_name"),
    "missing registry name": ({"registry": {"name": None}}, "registry.name"),
    "node count outside the autoscaler range": ({"aks": {"node_count": 7}}, "node_count"),
}


@pytest.mark.parametrize("case", list(CONFIG_ERRORS))
def test_bad_config_is_one_line_exit_2_and_no_request(azure_env: AzureEnv, case: str) -> None:
    change, word = CONFIG_ERRORS[case]
    azure_env.write_config(change)

    code, out, err = azure_env.provision()

    assert code == 2, err
    line = assert_one_line_error(err)
    assert word in line, line
    assert len(azure_env.fake.requests) == 0, "a request was sent before the config was checked"
    assert not azure_env.state_file.exists()
    assert out == ""


def test_http_arm_endpoint_is_refused_before_any_request(azure_env: AzureEnv) -> None:
    azure_env.extra_env["JHUBCTL_ARM_ENDPOINT"] = azure_env.fake.url.replace("https://", "http://")
    code, _, err = azure_env.provision()
    assert code == 2
    assert "https" in assert_one_line_error(err)
    assert len(azure_env.fake.requests) == 0


def test_auto_source_ip_with_a_garbage_answer_stops_before_any_request(make_env, ip_echo) -> None:
    env: AzureEnv = make_env("auto", config={"network": {"allowed_source_ips": "auto"}})
    env.extra_env["JHUBCTL_IP_ECHO_URL"] = ip_echo.url
    ip_echo.answer = "<html>rate limited</html>"

    code, _, err = env.provision()

    assert code == 2
    line = assert_one_line_error(err)
    assert "allowed_source_ips" in line and ip_echo.url in line
    assert ip_echo.hits == 1
    assert len(env.fake.requests) == 0


def test_auto_source_ip_with_the_echo_service_down_stops_before_any_request(make_env) -> None:
    env: AzureEnv = make_env("auto", config={"network": {"allowed_source_ips": "auto"}})
    env.extra_env["JHUBCTL_IP_ECHO_URL"] = f"http://127.0.0.1:{free_port()}/ip"
    code, _, err = env.provision()
    assert code == 2
    assert "allowed_source_ips" in assert_one_line_error(err)
    assert len(env.fake.requests) == 0


def test_unreachable_arm_is_one_line_exit_1(azure_env: AzureEnv) -> None:
    azure_env.extra_env["JHUBCTL_ARM_ENDPOINT"] = f"https://127.0.0.1:{free_port()}"

    code, _, err = azure_env.provision()

    assert code == 1
    line = assert_one_line_error(err)
    assert "cannot reach" in line and "127.0.0.1" in line
    assert TOKEN not in err
    assert not azure_env.state_file.exists()


def test_unauthorized_arm_is_one_line_exit_1_after_one_read(make_env) -> None:
    env: AzureEnv = make_env("unauthorized", expected_token="a-token-for-another-identity")

    code, out, err = env.provision()

    assert code == 1
    line = assert_one_line_error(err)
    assert "InvalidAuthenticationToken" in line
    assert TOKEN not in err + out
    assert [r.method for r in env.fake.requests] == ["GET"], "more than the preflight read was sent"
    assert env.writes() == []
    assert not env.state_file.exists()


def test_unknown_subscription_is_one_line_exit_1_after_one_read(azure_env: AzureEnv) -> None:
    azure_env.write_config({"azure": {"subscription_id": "11111111-2222-3333-4444-555555555555"}})

    code, _, err = azure_env.provision()

    assert code == 1
    assert "SubscriptionNotFound" in assert_one_line_error(err)
    assert [r.method for r in azure_env.fake.requests] == ["GET"]


def test_unknown_step_is_a_usage_error_before_any_write(azure_env: AzureEnv) -> None:
    code, _, err = azure_env.run("provision", "--yes", "--only", "regsitry")
    assert code == 2
    assert "regsitry" in assert_one_line_error(err)
    assert azure_env.writes() == []


def test_no_yes_and_no_terminal_is_a_usage_error_before_any_write(azure_env: AzureEnv) -> None:
    code, _, err = azure_env.run("provision")
    assert code == 2
    assert "--yes" in err and "Traceback" not in err
    assert azure_env.writes() == []
    assert azure_env.fake.resources.ids() == []


def test_non_rsa_ssh_key_is_bad_input_and_nothing_is_written(azure_env: AzureEnv, tmp_path) -> None:
    """AKS accepts only ssh-rsa keys: a configured ed25519 key is a config mistake (exit 2, as documented
    in docs/exit-codes.md for bad input), found before any write."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = tmp_path / "id_ed25519.pub"
    key.write_bytes(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
    azure_env.write_config({"aks": {"ssh_public_key_path": str(key)}})

    code, _, err = azure_env.provision()

    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "ssh_public_key_path" in errors[0] and "RSA" in errors[0], err
    assert "Traceback" not in err
    assert azure_env.writes() == []
    assert code == 2, f"bad input must exit 2 (docs/exit-codes.md), got {code}"


def test_a_second_provision_while_one_runs_is_refused_before_any_request(azure_env: AzureEnv) -> None:
    from tests.conftest import lock_held_elsewhere

    with lock_held_elsewhere(azure_env.state_dir, "provision"):
        code, _, err = azure_env.provision()

    assert code == 5
    assert "another jhubctl" in assert_one_line_error(err)
    assert len(azure_env.fake.requests) == 0

"""No secret leaves where it belongs.

The access token travels only in the Authorization header; the generated SSH private key and the
cluster's kubeconfig credential stay in their 0600 files. None of them shows up on stdout or stderr (text
or JSON), in the journal, or in any other file jhubctl writes, nor in any request body, path or query.
"""

from __future__ import annotations

import json
import stat

import pytest

from tests.provision.conftest import TOKEN, AzureEnv


def secrets_of(env: AzureEnv) -> dict[str, str]:
    """What must not leak: the access token, every line of the private key's body, the kube credential."""
    private = (env.state_dir / "ssh" / "id_rsa").read_text()
    body = [line for line in private.splitlines() if line and not line.startswith("-----")]
    assert len(body) > 10
    found = {"access token": TOKEN, "private key": private.strip()}
    found.update({f"private key line {i}": line for i, line in enumerate(body) if len(line) >= 20})
    found["kubeconfig credential"] = env.kube.token
    return found


@pytest.mark.parametrize("mode", ["text", "json"])
def test_no_secret_in_output_journal_files_or_requests(make_env, mode: str) -> None:
    env = make_env(mode, ssh="generate")
    extra = ["--json"] if mode == "json" else []

    first = env.provision_ok(*extra)
    again = env.provision_ok(*extra)  # a no-op run prints other things (unchanged rows, verify lines)

    if mode == "json":
        json.loads(first.stdout)
        json.loads(again.stdout)
    shown = first.stdout + first.stderr + again.stdout + again.stderr
    journal = env.state_file.read_text()
    secrets = secrets_of(env)
    for what, value in secrets.items():
        assert value not in shown, f"{what} printed"
        assert value not in journal, f"{what} in the journal"
    # Every other file jhubctl wrote holds none of them either (the key and kubeconfig hold only their own).
    for path in sorted(p for p in env.state_dir.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        for what, value in secrets.items():
            if what.startswith("private key") and path.name == "id_rsa":
                continue
            if what == "kubeconfig credential" and path.name == "kubeconfig":
                continue
            assert value not in text, f"{what} in {path.relative_to(env.root)}"
    # The token went to ARM only as the bearer header (the fake logs requests without it).
    for rec in env.fake.requests:
        logged = json.dumps([rec.path, rec.query, rec.body, rec.headers], default=str)
        assert TOKEN not in logged, f"token in {rec.method} {rec.path}"
    assert len(env.fake.requests) > 20


def test_private_key_and_kubeconfig_are_0600_in_a_0700_folder(make_env) -> None:
    env = make_env("modes", ssh="generate")
    env.provision_ok()
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(env.state_dir / "ssh" / "id_rsa") == 0o600
    assert mode(env.state_dir / "kubeconfig") == 0o600
    assert mode(env.state_dir / "state.json") == 0o600
    assert mode(env.state_dir / "ssh") == 0o700
    assert mode(env.state_dir) & 0o077 == 0, oct(mode(env.state_dir))
    # The public key is what AKS got; the kubeconfig is the one listClusterUserCredential handed out.
    public = (env.state_dir / "ssh" / "id_rsa.pub").read_text().strip()
    cluster = env.fake.resources.get(env.ids.cluster)
    assert cluster["properties"]["linuxProfile"]["ssh"]["publicKeys"][0]["keyData"] == public
    assert secrets_of(env)["kubeconfig credential"] in (env.state_dir / "kubeconfig").read_text()
    for backup in (env.state_dir / "backups").glob("*") if (env.state_dir / "backups").exists() else []:
        assert mode(backup) == 0o600, backup


def test_token_is_not_in_a_failure_either(make_env) -> None:
    env = make_env("failing", ssh="generate")
    env.fake.faults.fail_lro(env.ids.cluster, code="BadRequest", message="The request was bad.")
    code, out, err = env.provision()
    assert code == 1
    assert TOKEN not in out + err + env.state_file.read_text()
    private = (env.state_dir / "ssh" / "id_rsa").read_text().strip()
    assert private not in out + err


def test_debug_traceback_does_not_show_the_token(make_env) -> None:
    """--debug prints tracebacks; the credential object must not render its token in them."""
    env = make_env("debug", ssh="generate")
    env.fake.faults.inject(400, "InvalidTemplate", "boom", method="GET", path_contains="/providers/Microsoft.Resources",
                           times=1)
    code, out, err = env.run("--debug", "provision", "--yes")
    assert code != 0
    assert "Traceback" in err, "no traceback: this test checks nothing"
    assert TOKEN not in out + err


def test_merge_kubeconfig_adds_the_context_keeps_others_and_stays_0600(make_env, tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    existing = home / ".kube" / "config"
    existing.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: 'https://other:6443'}\n"
        "users:\n- name: other-user\n  user: {token: other-token}\ncontexts:\n- name: other\n"
        "  context: {cluster: other, user: other-user}\ncurrent-context: other\n")
    existing.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    env = make_env("merge", ssh="generate")

    env.provision_ok("--merge-kubeconfig")

    import yaml

    merged = yaml.safe_load(existing.read_text())
    assert {c["name"] for c in merged["contexts"]} == {"other", "jhub-aks"}
    assert merged["current-context"] == "jhub-aks"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert TOKEN not in existing.read_text()

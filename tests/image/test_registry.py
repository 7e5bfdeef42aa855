"""The registry adapter reads an image's platforms the way registries serve them, over the fake registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jhubctl.image.registry import MANIFEST_TYPES, Basic, Refresh, Registry, RegistryError, parse
from tests.fakes.base.fixtures import stop_all
from tests.fakes.registry import FakeRegistry

AAD = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.registry-test.sig"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeRegistry]:
    registry = FakeRegistry(aad_token=AAD, users={"sp-app-id": "sp-password"}, ca_dir=tmp_path / "ca").start()
    yield registry
    stop_all([registry], "the fake registry")


def client(fake: FakeRegistry, **credentials: object) -> Registry:
    return Registry(dict(credentials), verify=fake.ssl_context())  # type: ignore[arg-type]


@pytest.mark.parametrize(("image", "host", "repository", "tag"), [
    ("jupyterhub/k8s-singleuser-sample:3.1.0", "docker.io", "jupyterhub/k8s-singleuser-sample", "3.1.0"),
    ("ubuntu", "docker.io", "library/ubuntu", "latest"),
    ("quay.io/jupyterhub/k8s-hub:3.2.1", "quay.io", "jupyterhub/k8s-hub", "3.2.1"),
    ("localhost:5001/hub:1", "localhost:5001", "hub", "1"),
    ("127.0.0.1:5000/a/b@sha256:abc", "127.0.0.1:5000", "a/b", "sha256:abc"),
    ("jhubacr1.azurecr.io/k8s-hub:3.1.0-0123456789ab", "jhubacr1.azurecr.io", "k8s-hub", "3.1.0-0123456789ab"),
])
def test_references_are_read_as_docker_reads_them(image: str, host: str, repository: str, tag: str) -> None:
    ref = parse(image)
    assert (ref.host, ref.repository, ref.tag) == (host, repository, tag)
    assert parse(image).api_host == ("registry-1.docker.io" if host == "docker.io" else host)


def test_a_single_platform_image_is_read_from_its_config_blob(fake: FakeRegistry) -> None:
    fake.push("k8s-hub", "3.1.0-abc", "linux/arm64")
    fake.anonymous_pull = True
    registry = client(fake)
    assert registry.platforms(f"{fake.host}/k8s-hub:3.1.0-abc") == ["linux/arm64"]
    gets = [(r.method, r.path) for r in fake.requests]
    assert gets == [("GET", "/v2/k8s-hub/manifests/3.1.0-abc"), ("GET", "/oauth2/token"),
                    ("GET", "/v2/k8s-hub/manifests/3.1.0-abc"), ("GET", f"/v2/k8s-hub/blobs/{_config_digest(fake)}")]
    manifest = fake.requests.snapshot()[2]
    assert manifest.headers["Accept"] == ", ".join(MANIFEST_TYPES)
    token = fake.requests.snapshot()[1]
    assert token.query == {"service": fake.host, "scope": "repository:k8s-hub:pull"}


def _config_digest(fake: FakeRegistry) -> str:
    return next(r.response.body["config"]["digest"] for r in fake.requests if r.path.endswith("/manifests/3.1.0-abc")
                and r.status == 200)


def test_an_index_names_its_platforms_without_the_attestation_entry(fake: FakeRegistry) -> None:
    fake.push_index("singleuser", "3.1.0", ("linux/amd64", "linux/arm64/v8"))
    fake.anonymous_pull = True
    assert client(fake).platforms(f"{fake.host}/singleuser:3.1.0") == ["linux/amd64", "linux/arm64/v8"]
    assert not any("/blobs/" in r.path for r in fake.requests)


def test_a_user_and_password_go_to_the_token_endpoint_as_basic_auth(fake: FakeRegistry) -> None:
    fake.push("hub", "1", "linux/amd64")
    assert client(fake, **{fake.host: Basic("sp-app-id", "sp-password")}).platforms(f"{fake.host}/hub:1") == ["linux/amd64"]
    with pytest.raises(RegistryError) as refused:
        client(fake, **{fake.host: Basic("sp-app-id", "expired")}).platforms(f"{fake.host}/hub:1")
    assert refused.value.status == 401
    assert "gave no pull token with the credential jhubctl has for it: 401 UNAUTHORIZED" in refused.value.message
    assert "expired" not in refused.value.message


def test_an_acr_refresh_token_is_exchanged_with_grant_type_refresh_token(fake: FakeRegistry) -> None:
    fake.push("hub", "1", "linux/amd64")
    refresh = httpx.post(f"{fake.url}/oauth2/exchange", verify=fake.ssl_context(),
                         data={"grant_type": "access_token", "service": fake.host, "access_token": AAD}).json()["refresh_token"]
    assert client(fake, **{fake.host: Refresh(refresh)}).platforms(f"{fake.host}/hub:1") == ["linux/amd64"]
    exchange = [r for r in fake.requests if r.method == "POST" and r.path == "/oauth2/token"]
    assert len(exchange) == 1 and "grant_type=refresh_token" in exchange[0].body


def test_without_a_credential_a_private_registry_says_so(fake: FakeRegistry) -> None:
    fake.push("hub", "1", "linux/amd64")
    with pytest.raises(RegistryError) as refused:
        client(fake).platforms(f"{fake.host}/hub:1")
    assert refused.value.status == 401 and "anonymously" in refused.value.message


def test_an_unknown_tag_is_the_registrys_404(fake: FakeRegistry) -> None:
    fake.anonymous_pull = True
    with pytest.raises(RegistryError) as missing:
        client(fake).platforms(f"{fake.host}/hub:nope")
    assert missing.value.status == 404 and "MANIFEST_UNKNOWN" in missing.value.message


def test_an_unreachable_registry_is_one_line() -> None:
    with pytest.raises(RegistryError) as unreachable:
        Registry().platforms("127.0.0.1:9/hub:1")
    assert "cannot reach 127.0.0.1" in unreachable.value.message

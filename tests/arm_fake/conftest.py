import pytest

from tests.fakes.arm.fixtures import arm_clients, fake_arm, fake_arm_factory  # noqa: F401



@pytest.fixture(scope="session")
def rsa_public_key() -> str:
    """An OpenSSH ``ssh-rsa`` public key (what AKS accepts)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


@pytest.fixture
def rg(arm_clients) -> str:
    """A resource group named ``rg1`` in eastus."""
    arm_clients.resource.resource_groups.create_or_update("rg1", {"location": "eastus"})
    return "rg1"


@pytest.fixture
def aks_body(rsa_public_key: str):
    """Factory for a minimal managed-cluster PUT body (system-assigned identity, RSA key)."""

    def make(subnet_id: str | None = None, ssh_key: str | None = None, **network: object) -> dict:
        pool = {"name": "system", "count": 1, "vmSize": "Standard_D2s_v5", "mode": "System", "osType": "Linux"}
        if subnet_id:
            pool["vnetSubnetID"] = subnet_id
        return {
            "location": "eastus",
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "dnsPrefix": "jhub",
                "kubernetesVersion": "1.30.6",
                "agentPoolProfiles": [pool],
                "linuxProfile": {"adminUsername": "azureuser", "ssh": {"publicKeys": [{"keyData": ssh_key or rsa_public_key}]}},
                # Outside every test VNet: AKS's default 10.0.0.0/16 overlaps their subnets, which Azure refuses.
                "networkProfile": {"networkPlugin": "azure", "serviceCidr": "172.16.0.0/16",
                                   "dnsServiceIP": "172.16.0.10", **network},
            },
        }

    return make

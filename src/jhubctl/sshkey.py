"""The node SSH key: AKS wants an RSA public key; generating one beats asking for `ssh-keygen` by hand."""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError
from .state import ensure_private_dir, write_private


def read_public_key(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"aks.ssh_public_key_path {path}: {exc.strerror}") from None
    if not text.startswith("ssh-rsa "):
        raise UsageError(
            f"aks.ssh_public_key_path {path} is not an RSA public key (AKS accepts only ssh-rsa)",
            hint="point it at an ssh-rsa key, or remove the key to let jhubctl generate one",
        )
    return text


def generate(directory: Path, bits: int = 4096) -> Path:
    """Write `id_rsa` (0600) and `id_rsa.pub`; returns the public key path. Existing keys are kept."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    public = directory / "id_rsa.pub"
    if public.exists():
        return public
    ensure_private_dir(directory)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    write_private(directory / "id_rsa", private_pem)
    openssh = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    write_private(public, openssh.decode() + " jhubctl\n")
    return public

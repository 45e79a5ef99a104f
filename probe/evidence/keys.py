"""The vantage's Ed25519 key: it signs chain heads and evidence manifests.

Which key: `evidence.key_file` if set, else the quorum's `signing_key` (one identity per
vantage), else `state_dir/evidence/vantage.key`, created on first start (mode 0600, never
overwritten) with its public half beside it as `vantage.pub` for verifiers to pin. The
private key is never logged, exported or written into a pack; only the public key is.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe.quorum.codec import load_private_key, public_raw

if TYPE_CHECKING:
    from probe.config import Config

KEY_FILE = "vantage.key"
PUB_FILE = "vantage.pub"


@dataclasses.dataclass(frozen=True)
class VantageKey:
    key: Ed25519PrivateKey = dataclasses.field(repr=False)
    source: str  # "file", "quorum" or "generated"

    @property
    def public(self) -> bytes:
        return public_raw(self.key)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public).decode()

    @property
    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


def evidence_dir(config: Config) -> Path:
    return config.evidence.pack_dir or Path(config.probe.state_dir) / "evidence"


def load_vantage_key(config: Config, *, create: bool = True) -> VantageKey:
    """The key this vantage signs with; created on first use when none is configured."""
    if config.evidence.key_file is not None:
        return VantageKey(load_private_key(config.evidence.key_file.read_text()), "file")
    if config.quorum is not None and config.quorum.signing_key is not None:
        return VantageKey(load_private_key(config.quorum.signing_key.get_secret_value()),
                          "quorum")
    path = Path(config.probe.state_dir) / "evidence" / KEY_FILE
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"no vantage key at {path} (start the daemon once)")
        _create(path)
    return VantageKey(load_private_key(path.read_text()), "generated")


def _create(path: Path) -> None:
    """Write a new key atomically; a concurrent creator's key wins and ours is dropped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created it first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    pub = VantageKey(load_private_key(path.read_text()), "generated").public_pem
    path.with_name(PUB_FILE).write_text(pub)

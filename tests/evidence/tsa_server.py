"""A real RFC 3161 TSA on loopback: `openssl ts -reply` behind a small aiohttp handler, with
a test CA whose TSA certificate has the critical `timeStamping` extended key usage."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import free_port


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(directory: Path, cn: str = "Test TSA Root") -> tuple[Path, Path, Path]:
    """(ca.pem, tsa.pem, tsa.key) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    tsa = (x509.CertificateBuilder().subject_name(_name("Test TSA")).issuer_name(ca.subject)
           .public_key(key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - dt.timedelta(days=1))
           .not_valid_after(now + dt.timedelta(days=30))
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                          critical=True)
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "tsa.pem", directory / "tsa.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


CONFIG = """\
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
certs = {dir}/ca.pem
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


class LocalTsa:
    """Started and stopped by a fixture; `url` is http://127.0.0.1:PORT/."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca, _, _ = make_ca(directory)
        (directory / "serial").write_text("01\n")
        (directory / "tsa.cnf").write_text(CONFIG.format(dir=directory))
        self.requests = 0
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def _reply(self, request: web.Request) -> web.Response:
        self.requests += 1
        query = self.dir / f"q{self.requests}.tsq"
        reply = self.dir / f"r{self.requests}.tsr"
        query.write_bytes(await request.read())
        openssl = shutil.which("openssl") or "openssl"
        proc = await asyncio.create_subprocess_exec(
            openssl, "ts", "-reply", "-config", str(self.dir / "tsa.cnf"),
            "-queryfile", str(query), "-out", str(reply),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()
        if proc.returncode != 0:
            return web.Response(status=500)
        return web.Response(body=reply.read_bytes(), content_type="application/timestamp-reply")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._reply)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

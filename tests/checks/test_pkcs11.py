"""`pkcs11` against a real SoftHSM2 token, and a fake token that hangs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from checks.base import CheckFailure, Resources
from checks.pkcs11_token import (
    Pkcs11Check,
    Pkcs11Config,
    Pkcs11Token,
    public_key_from_attributes,
)
from checks.registry import validate_config
from checks.signatures import public_key_pem
from tests.checks.conftest import MakeCtx
from tests.realtools import require_tool

pkcs11 = pytest.importorskip("pkcs11")

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "sla-probe-test"
PIN = "246810"
SO_PIN = "13579111"


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SoftHSM2 token in a temp dir with P-256, secp256k1, RSA and Ed25519 keys.

    python-pkcs11 loads one library per process and SoftHSM reads its config when loaded,
    so this is one session-wide token; the keys' public PEMs are returned by label.
    """
    util = require_tool("softhsm2-util")
    library = require_tool(SOFTHSM_LIB)
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    patch = pytest.MonkeyPatch()
    patch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", PIN,
         "--so-pin", SO_PIN],
        check=True, capture_output=True, timeout=30, env=os.environ.copy(),
    )
    Attribute, KeyType, Mechanism = pkcs11.Attribute, pkcs11.KeyType, pkcs11.Mechanism
    encode_named_curve_parameters = pkcs11.util.ec.encode_named_curve_parameters
    lib = pkcs11.lib(library)
    token = lib.get_token(token_label=TOKEN_LABEL)
    pems: dict[str, str] = {}
    with token.open(user_pin=PIN, rw=True) as session:
        for label, curve in (("p256", "secp256r1"), ("k1", "secp256k1")):
            params = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)},
                local=True,
            )
            public, _ = params.generate_keypair(store=True, label=label)
            key, _alg = public_key_from_attributes(
                "EC", {"ec_params": public[Attribute.EC_PARAMS],
                       "ec_point": public[Attribute.EC_POINT]},
            )
            pems[label] = public_key_pem(key)
        public, _ = session.generate_keypair(KeyType.RSA, 2048, store=True, label="rsa")
        key, _alg = public_key_from_attributes(
            "RSA", {"modulus": public[Attribute.MODULUS],
                    "public_exponent": public[Attribute.PUBLIC_EXPONENT]},
        )
        pems["rsa"] = public_key_pem(key)
        params = session.create_domain_parameters(
            KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: bytes.fromhex("06032b6570")}, local=True
        )
        public, _ = params.generate_keypair(
            store=True, label="ed", mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN
        )
        key, _alg = public_key_from_attributes(
            "EC_EDWARDS", {"ec_params": public[Attribute.EC_PARAMS],
                           "ec_point": public[Attribute.EC_POINT]},
        )
        pems["ed"] = public_key_pem(key)
    yield pems
    patch.undo()


def _config(**changes: Any) -> Pkcs11Config:
    raw = {"name": "hsm", "type": "pkcs11", "library": SOFTHSM_LIB, "token_label": TOKEN_LABEL,
           "pin": PIN, "key_label": "p256", "mechanism": "ECDSA", **changes}
    return Pkcs11Config.model_validate(raw)


async def _run(config: Pkcs11Config, resources: Resources, make_ctx: MakeCtx) -> Any:
    check = Pkcs11Check(config, resources)
    try:
        return await asyncio.wait_for(check.run(make_ctx()), 20)
    finally:
        await check.aclose()


def _spki_sha256(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode())
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


@pytest.mark.real
class TestPkcs11CheckWithSoftHsm:
    @pytest.mark.parametrize(
        ("key_label", "mechanism"),
        [
            ("p256", "ECDSA"),
            ("k1", "ECDSA"),
            ("rsa", "SHA256_RSA_PKCS"),
            ("rsa", "SHA256_RSA_PKCS_PSS"),
            ("ed", "EDDSA"),
        ],
    )
    async def test_token_signature_verifies(
        self, softhsm: dict[str, str], key_label: str, mechanism: str,
        resources: Resources, make_ctx: MakeCtx,
    ) -> None:
        result = await _run(_config(key_label=key_label, mechanism=mechanism), resources,
                            make_ctx)
        assert result.ok, result.detail
        assert result.evidence["public_key_sha256"] == _spki_sha256(softhsm[key_label])
        assert len(bytes.fromhex(result.evidence["challenge"])) == 32

    async def test_pinned_public_key_is_used(
        self, softhsm: dict[str, str], resources: Resources, make_ctx: MakeCtx
    ) -> None:
        good = await _run(_config(public_key=softhsm["p256"]), resources, make_ctx)
        assert good.ok, good.detail
        other = public_key_pem(ec.generate_private_key(ec.SECP256R1()).public_key())
        swapped = await _run(_config(public_key=other), resources, make_ctx)
        assert swapped.failure_class == "bad_signature"

    @pytest.mark.parametrize(
        ("changes", "failure_class"),
        [
            ({"pin": "000000"}, "auth"),
            ({"token_label": "no-such-token"}, "token"),
            ({"key_label": "no-such-key"}, "key"),
            # SoftHSM 2.6 has no CKM_ECDSA_SHA256: the token refuses the mechanism.
            ({"mechanism": "ECDSA_SHA256"}, "error"),
        ],
    )
    async def test_token_failures_are_classified(
        self, softhsm: dict[str, str], changes: dict[str, Any], failure_class: str,
        resources: Resources, make_ctx: MakeCtx,
    ) -> None:
        result = await _run(_config(**changes), resources, make_ctx)
        assert result.failure_class == failure_class, result.detail
        assert PIN not in result.detail

    async def test_a_second_library_in_the_process_is_error(
        self, softhsm: dict[str, str], resources: Resources, make_ctx: MakeCtx
    ) -> None:
        result = await _run(_config(library="/usr/lib/other/libpkcs11.so"), resources,
                            make_ctx)
        assert result.failure_class == "error"
        assert "already loaded" in result.detail

    def test_pin_from_file_is_secret(self, tmp_path: Path) -> None:
        path = tmp_path / "pin"
        path.write_text(PIN + "\n")
        raw = {"name": "hsm", "type": "pkcs11", "token_label": "t", "pin_file": str(path),
               "key_label": "k"}
        config = validate_config(raw)
        assert isinstance(config, Pkcs11Config)
        assert config.pin.get_secret_value() == PIN
        assert PIN not in repr(config)


class _HangingKey:
    def __init__(self, release: threading.Event, entered: threading.Event) -> None:
        self.release = release
        self.entered = entered

    def sign(self, data: bytes, **_kwargs: Any) -> bytes:
        self.entered.set()
        self.release.wait(30)  # a driver call that does not return
        return b"\x00" * 64


class _HangingSession:
    def __init__(self, key: _HangingKey) -> None:
        self.key = key

    def get_key(self, **_kwargs: Any) -> _HangingKey:
        return self.key


class TestPkcs11CheckWithHungToken:
    async def test_hung_sign_leaves_loop_responsive_and_attempt_times_out(
        self, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        release, entered = threading.Event(), threading.Event()
        session = _HangingSession(_HangingKey(release, entered))

        @contextlib.contextmanager
        def open_session() -> Iterator[_HangingSession]:
            yield session

        config = _config()
        check = Pkcs11Check(config, resources, token=Pkcs11Token(config, open_session))
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        loop = asyncio.get_running_loop()
        try:
            started = loop.time()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(check.run(make_ctx(0.3)), 0.3)
            elapsed = loop.time() - started
            assert entered.is_set()
            assert elapsed < 1.0
            assert ticks >= 10  # the loop kept running while the token call hung
            # The next attempt queues behind the stuck call and also ends by timeout.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(check.run(make_ctx(0.2)), 0.2)
        finally:
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking
            release.set()
            await check.aclose()

    async def test_token_answering_garbage_is_bad_signature(
        self, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        release, entered = threading.Event(), threading.Event()
        release.set()  # answers at once, with 64 zero bytes

        key = ec.generate_private_key(ec.SECP256R1())

        class Session(_HangingSession):
            def get_key(self, **kwargs: Any) -> Any:
                if kwargs["object_class"] == pkcs11.ObjectClass.PUBLIC_KEY:
                    return None
                return self.key

        class Token(Pkcs11Token):
            def _public_key(self, session: Any) -> Any:
                return key.public_key(), "ecdsa-p256-sha256"

        @contextlib.contextmanager
        def open_session() -> Iterator[Session]:
            yield Session(_HangingKey(release, entered))

        config = _config()
        check = Pkcs11Check(config, resources, token=Token(config, open_session))
        try:
            result = await asyncio.wait_for(check.run(make_ctx()), 5)
        finally:
            await check.aclose()
        assert result.failure_class == "bad_signature"
        assert result.evidence["signature"] == "00" * 64


class TestPublicKeyFromAttributes:
    def test_ec_point_without_octet_string_wrapper_is_accepted(self) -> None:
        public = ec.generate_private_key(ec.SECP256R1()).public_key()
        point = public.public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
        params = bytes.fromhex("06082a8648ce3d030107")
        wrapped, _ = public_key_from_attributes(
            "EC", {"ec_params": params, "ec_point": bytes([4, len(point)]) + point}
        )
        bare, algorithm = public_key_from_attributes(
            "EC", {"ec_params": params, "ec_point": point}
        )
        assert public_key_pem(wrapped) == public_key_pem(bare) == public_key_pem(public)
        assert algorithm == "ecdsa-p256-sha256"

    def test_unknown_curve_is_refused(self) -> None:
        with pytest.raises(CheckFailure, match="unsupported EC curve"):
            public_key_from_attributes("EC", {"ec_params": b"\x06\x01\x00", "ec_point": b""})


# Five checks on one token, each attempting back to back, for this long (a bound on both
# time and count). The three-checks run failed 8 of 97 attempts; a 10-minute run of
# this test with SHARED_TOKEN_SECONDS=600 is recorded in CHANGELOG.md (issue 13, item 14).
SHARED_TOKEN_SECONDS = float(os.environ.get("SHARED_TOKEN_SECONDS", "60"))
SHARED_TOKEN_MAX_ATTEMPTS = 5000


@pytest.mark.real
class TestSharedToken:
    async def test_five_checks_on_one_token_never_disturb_each_other(
        self, softhsm: dict[str, str], resources: Resources, make_ctx: MakeCtx
    ) -> None:
        configs = [
            _config(name="p256", key_label="p256"),
            _config(name="k1", key_label="k1"),
            _config(name="rsa", key_label="rsa", mechanism="SHA256_RSA_PKCS"),
            _config(name="pss", key_label="rsa", mechanism="SHA256_RSA_PKCS_PSS"),
            _config(name="ed", key_label="ed", mechanism="EDDSA"),
        ]
        checks = [Pkcs11Check(c, resources) for c in configs]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHARED_TOKEN_SECONDS
        failures: list[str] = []
        counts = dict.fromkeys((c.name for c in configs), 0)

        async def attempts(check: Pkcs11Check) -> None:
            while loop.time() < deadline and counts[check.config.name] < SHARED_TOKEN_MAX_ATTEMPTS:
                result = await asyncio.wait_for(check.run(make_ctx(20)), 20)
                counts[check.config.name] += 1
                if not result.ok:
                    failures.append(f"{check.config.name}: {result.failure_class} "
                                    f"{result.detail}")
                await asyncio.sleep(0.01)

        try:
            await asyncio.gather(*(attempts(c) for c in checks))
        finally:
            for check in checks:
                await check.aclose()
        assert all(n > 0 for n in counts.values()), counts
        assert failures == [], (len(failures), sum(counts.values()), failures[:5])

    async def test_a_new_check_after_all_were_closed_logs_in_again(
        self, softhsm: dict[str, str], resources: Resources, make_ctx: MakeCtx
    ) -> None:
        for _ in range(3):
            result = await _run(_config(), resources, make_ctx)
            assert result.ok, result.detail

    async def test_a_check_with_another_pin_on_a_shared_token_is_auth(
        self, softhsm: dict[str, str], resources: Resources, make_ctx: MakeCtx
    ) -> None:
        good = Pkcs11Check(_config(), resources)
        try:
            assert (await good.run(make_ctx(20))).ok
            result = await _run(_config(name="other", pin="000000"), resources, make_ctx)
            assert result.failure_class == "auth"
            assert "different PIN" in result.detail
            assert "000000" not in result.detail
        finally:
            await good.aclose()

    async def test_eddsa_on_an_ec_key_names_the_mismatch(
        self, softhsm: dict[str, str], resources: Resources, make_ctx: MakeCtx
    ) -> None:
        result = await _run(_config(key_label="p256", mechanism="EDDSA"), resources, make_ctx)
        assert result.failure_class == "key"
        assert result.detail == ("mechanism EDDSA needs an Ed25519 (EC_EDWARDS) key, but key "
                                 "'p256' is an EC (P-256/secp256k1) key")

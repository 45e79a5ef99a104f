"""A pack verifies; every tampering is refused and named."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe.cli import main
from probe.evidence import format as fmt
from probe.evidence.keys import PUB_FILE, load_vantage_key
from probe.evidence.verify import InconsistentError, verify_pack
from tests.evidence import builder


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pack")
    _cfg, info = builder.pack(root / "state", root / "pack")
    assert not info.provisional
    return root / "pack", root / "state"


@pytest.fixture
def pack(made: tuple[Path, Path], tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(made[0], out)
    return out


def _key(made: tuple[Path, Path]) -> str:
    return (made[1] / "evidence" / PUB_FILE).read_text()


def test_a_pack_verifies_and_prints_the_figures(made: tuple[Path, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    key = made[1] / "evidence" / PUB_FILE
    assert main(["verify", str(made[0]), "--key", str(key)]) == 0
    out = capsys.readouterr().out
    assert "acme 2025-09 (closed): consistent" in out
    assert "api: uptime" in out
    result = verify_pack(made[0], _key(made))
    (api,) = result.figures
    assert api["down_minutes"] == 15.0  # 00:20-00:40 less INC-7 (5 min); 01:05 in MNT-1
    assert api["excluded_minutes"] == {"declared": 5.0, "maintenance": 10.0}


def test_no_secret_reaches_the_pack(made: tuple[Path, Path]) -> None:
    for path in made[0].iterdir():
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        assert b"s3cr3t" not in data, path.name
        assert b"PRIVATE" not in data, path.name


def _resign(pack: Path, key: Ed25519PrivateKey) -> None:
    """An editor who knows the format (and holds `key`): manifest hashes and signature."""
    manifest = json.loads((pack / fmt.MANIFEST).read_text())
    for name in manifest["files"]:
        if (pack / name).exists():
            data = (pack / name).read_bytes()
            manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(),
                                       "bytes": len(data)}
    text = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    (pack / fmt.MANIFEST).write_bytes(text)
    (pack / fmt.SIGNATURE).write_text(base64.b64encode(key.sign(text)).decode())


def _rewrite(path: Path, edit: object) -> None:
    data = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines = edit(data)  # type: ignore[operator]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))


def _refused(pack: Path, key: str | None, named: str) -> None:
    with pytest.raises(InconsistentError) as caught:
        verify_pack(pack, key)
    assert named in str(caught.value)


FILES = [fmt.MANIFEST, fmt.SIGNATURE, fmt.ATTEMPTS_FILE, fmt.VERDICTS_FILE, fmt.ENTRIES_FILE,
         fmt.CHAIN_FILE, fmt.HEADS_FILE, fmt.CONTRACT_FILE, fmt.VANTAGE_FILE,
         fmt.CERTIFICATES_FILE, fmt.FIGURES_FILE]


@pytest.mark.parametrize("name", FILES)
def test_one_byte_of_any_file_is_refused(pack: Path, made: tuple[Path, Path],
                                         name: str) -> None:
    path = pack / name
    data = bytearray(path.read_bytes())
    i = len(data) // 2
    data[i] = ord("#") if data[i] != ord("#") else ord("$")
    path.write_bytes(bytes(data))
    with pytest.raises(InconsistentError) as caught:
        verify_pack(pack, _key(made))
    message = str(caught.value)
    assert name in message or fmt.SIGNATURE in message or fmt.VANTAGE_FILE in message


def test_a_removed_file_is_named(pack: Path, made: tuple[Path, Path]) -> None:
    (pack / fmt.CERTIFICATES_FILE).unlink()
    _refused(pack, _key(made), "certificates.json: listed in manifest.json but missing")


def test_a_changed_verdict_with_every_hash_recomputed_is_refused(
        pack: Path, made: tuple[Path, Path]) -> None:
    def flip(lines: list[str]) -> list[str]:
        i = next(n for n, line in enumerate(lines) if '"verdict":"down"' in line)
        lines[i] = lines[i].replace('"verdict":"down"', '"verdict":"up"')
        return lines

    _rewrite(pack / fmt.VERDICTS_FILE, flip)
    _resign(pack, Ed25519PrivateKey.generate())
    _refused(pack, None, "manifest.sig: the manifest's signature does not verify")
    # even an insider holding the vantage key is caught by the chain's digests
    _resign(pack, load_vantage_key(builder.config(made[1])).key)
    _refused(pack, _key(made), "verdicts.jsonl.gz row")


def test_a_dropped_attempt_is_named(pack: Path, made: tuple[Path, Path]) -> None:
    _rewrite(pack / fmt.ATTEMPTS_FILE, lambda lines: lines[:40] + lines[41:])
    _resign(pack, load_vantage_key(builder.config(made[1])).key)
    _refused(pack, _key(made), "attempts.jsonl.gz rows")


def test_another_vantages_key_is_refused(pack: Path, made: tuple[Path, Path]) -> None:
    other = Ed25519PrivateKey.generate()
    vantage = json.loads((pack / fmt.VANTAGE_FILE).read_text())
    raw = other.public_key().public_bytes_raw()
    vantage["public_key"] = base64.b64encode(raw).decode()
    (pack / fmt.VANTAGE_FILE).write_text(json.dumps(vantage))
    _resign(pack, other)
    _refused(pack, _key(made), "vantage.json: public_key is not the given --key")
    _refused(pack, None, "heads.jsonl row 1: signature does not verify")


def test_a_secret_inside_a_contract_term_does_not_change_the_terms() -> None:
    """A registered secret that happens to occur inside a term (here `business`) must not
    be redacted out of contract.json: the verifier recomputes the figures from it."""
    from probe.config import parse_config  # noqa: PLC0415
    from probe.evidence.terms import PackTerms, terms_json  # noqa: PLC0415
    from probe.secrets import REGISTRY  # noqa: PLC0415

    config = parse_config(textwrap.dedent("""\
        services:
          - name: api
            checks: [{name: h, type: http, url: "http://127.0.0.1:9/", interval: 10s}]
        contracts:
          - name: c
            objectives: [{service: api, target: 99.9}]
            support:
              package: std
              calendars: {office: {timezone: UTC, hours: {mon-fri: "09:00-17:00"}}}
              severities: [{name: P1}]
              packages:
                std:
                  calendar: office
                  response: {P1: "2 business days"}
        """))
    REGISTRY.add("business")
    data = terms_json(config, "c", [])
    assert "business_days" in json.dumps(data["contract"])
    PackTerms.load(data)

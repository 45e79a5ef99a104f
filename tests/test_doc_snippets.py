"""Every YAML snippet in README.md and docs/*.md is checked, so the docs cannot drift
(issue 13, item 10: `token_file:` was shown where only `bearer_file:` works).

Each ```yaml block carries a marker comment on the line before it, saying what it is:

- `<!-- snippet: config -->`: a whole config file, validated by the real loader;
- `<!-- snippet: checks -->`: a list of checks, validated inside a one-service config;
- `<!-- snippet: fragment -->`: a top-level `controls:` or `dependencies:` list, or an
  `auth:` block, validated inside a minimal config;
- `<!-- snippet: partial -->`: deliberately partial (`...`, a block of a larger section):
  read by the config loader (bounds, duplicate keys) but not validated;
- `<!-- snippet: other -->`: not an sla-probe config (a Prometheus file, alert rules).

A block without a marker fails the test. Files named by `*_file:` keys are replaced by
temporary files of the right kind (a key for `public_key_file`, a CA for `ca_file`, ...).
The config files in config/ and deploy/ are validated whole as well.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pydantic import BaseModel

from checks.registry import BUILTINS, lookup
from probe.config import Config, load_config
from probe.web.config import WebConfigFile
from probe.yamlsource import parse_yaml
from tests.pki import CertificateAuthority

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
KINDS = ("config", "checks", "fragment", "partial", "other")
_BLOCK = re.compile(r"(?:<!-- snippet: (\w+) -->\n[ \t]*)?```ya?ml\n(.*?)[ \t]*```", re.S)
MINIMAL_CHECK = {"name": "docs-h", "type": "http", "url": "http://127.0.0.1:9/"}


def snippets() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for path in DOCS:
        text = path.read_text()
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start(2)) + 1
            out.append((f"{path.name}:{line}", match.group(1) or "",
                        textwrap.dedent(match.group(2))))
    return out


def _public_pem(algorithm: str) -> str:
    key: Any = (ed25519.Ed25519PrivateKey.generate() if algorithm == "ed25519" else
                ec.generate_private_key(ec.SECP256K1() if "secp256k1" in algorithm
                                        else ec.SECP256R1()))
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _private_pem() -> str:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


def stub_files(data: Any, tmp: Path, ca: Path, parent: dict[str, Any] | None = None) -> Any:
    """`data` with every `*_file` path replaced by a temporary file of the right kind."""
    if isinstance(data, list):
        return [stub_files(item, tmp, ca, parent) for item in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(key, str) and key.endswith("_file") and isinstance(value, str):
            if key in ("ca_file", "cert_file"):
                out[key] = str(ca)
                continue
            algorithm = str(data.get("algorithm") or "ecdsa-p256-sha256")
            content = {
                "public_key_file": _public_pem(algorithm),
                "key_file": _private_pem(),
                "private_key_file": "0x" + "11" * 32,
            }.get(key, "docs-secret-value")
            path = tmp / f"{len(list(tmp.iterdir()))}-{key}"
            path.write_text(content + "\n")
            out[key] = str(path)
        else:
            out[key] = stub_files(value, tmp, ca, data)
    return out


def as_config(kind: str, data: Any) -> dict[str, Any]:
    if kind == "config":
        return dict(data)
    if kind == "checks":
        return {"services": [{"name": "docs", "checks": data}]}
    assert isinstance(data, dict), "a fragment is a mapping"
    [(key, value)] = data.items()
    service: dict[str, Any] = {"name": "docs", "checks": [MINIMAL_CHECK]}
    if key == "controls":
        return {"services": [service], "controls": value}
    if key == "dependencies":
        return {"services": [{**service, "dependencies": value}]}
    if key == "auth":
        return {"services": [{**service, "checks": [{**MINIMAL_CHECK, "auth": value}]}]}
    raise AssertionError(f"fragment of an unknown section {key!r}")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return CertificateAuthority(tmp_path_factory.mktemp("docs-ca"), "docs-ca").cert_path


@pytest.mark.parametrize(("where", "kind", "text"), snippets(), ids=lambda v: str(v)[:40])
def test_the_snippet_is_marked_and_valid(
    where: str, kind: str, text: str, tmp_path: Path, ca: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert kind in KINDS, f"{where}: mark the block with <!-- snippet: KIND --> ({KINDS})"
    monkeypatch.setenv("DFNS_TOKEN", "docs-token-value")
    data, _source = parse_yaml(text, where)  # bounds and duplicate keys, for every kind
    if kind in ("partial", "other"):
        return
    (tmp_path / "files").mkdir()
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(as_config(kind, stub_files(data, tmp_path / "files", ca))))
    load_config(config)


def test_there_are_snippets_to_check() -> None:
    kinds = [kind for _where, kind, _text in snippets()]
    assert len(kinds) >= 10
    assert "config" in kinds or "checks" in kinds


@pytest.mark.parametrize("path", [
    *sorted((ROOT / "config").rglob("*.yaml")), ROOT / "deploy/kubernetes/base/config.yml",
], ids=lambda p: str(p.relative_to(ROOT)))
def test_the_shipped_configs_are_valid(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "docs")
    load_config(path)


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def file_keys() -> set[str]:
    """Every `*_file` key some config model accepts: its own field, or `x_file` for `x`."""
    roots: list[type[BaseModel]] = [Config, WebConfigFile]
    roots += [lookup(name).config_model for name in BUILTINS]
    seen: set[type[BaseModel]] = set()
    keys: set[str] = set()
    while roots:
        model = roots.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            key = field.alias or name
            keys.add(key if key.endswith("_file") else f"{key}_file")
            roots += _models(field.annotation)
    return keys


def test_every_file_key_named_in_the_docs_exists() -> None:
    known = file_keys()
    texts = [*DOCS, ROOT / "deploy/kubernetes/base/config.yml"]
    wrong = [f"{path.name}: {key}" for path in texts
             for key in re.findall(r"\b([a-z][a-z_]*_file):", path.read_text())
             if key not in known and key != "foo_file"]  # the docs' placeholder name
    assert wrong == []

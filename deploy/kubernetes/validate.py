#!/usr/bin/env python3
"""Validate Kubernetes manifests offline.

    deploy/kubernetes/validate.py base/                  # the resources kustomization.yaml lists
    kubectl kustomize base | deploy/kubernetes/validate.py -   # a rendered stream

Core kinds are checked strictly (unknown fields are errors) against the Kubernetes OpenAPI
schemas bundled in PyPI `kubernetes-validate`. ServiceMonitor and PrometheusRule are
checked with `jsonschema` against schemas/*.json, written by hand from the
prometheus-operator CRDs (monitoring.coreos.com/v1); a PrometheusRule's groups are also
run through `promtool check rules` when promtool is installed. Exit 1 on any problem.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
KUBERNETES_VERSION = "1.30.0"


def documents(source: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(origin, manifest) for a kustomization directory, a file, or '-' (stdin)."""
    if source == "-":
        yield from _stream("<stdin>", sys.stdin.read())
        return
    path = Path(source)
    if path.is_dir():
        kustomization = yaml.safe_load((path / "kustomization.yaml").read_text())
        for resource in kustomization.get("resources", []):
            yield from _stream(str(path / resource), (path / resource).read_text())
        return
    yield from _stream(str(path), path.read_text())


def _stream(origin: str, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, doc in enumerate(yaml.safe_load_all(text)):
        if doc is not None:
            yield f"{origin}#{index}", doc


def crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    group, _, version = api_version.partition("/")
    path = SCHEMAS / f"{kind.lower()}.{group}_{version}.json"
    if not path.exists():
        return None
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def promtool_problems(doc: dict[str, Any], promtool: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.yml"
        rules.write_text(yaml.safe_dump({"groups": doc["spec"].get("groups", [])}))
        result = subprocess.run(  # noqa: S603 - promtool from PATH, our own temp file
            [promtool, "check", "rules", str(rules)], capture_output=True, text=True,
            check=False,
        )
    if result.returncode == 0:
        return []
    return [f"promtool check rules: {(result.stdout + result.stderr).strip()}"]


def validate(doc: dict[str, Any], version: str, promtool: str | None) -> list[str]:
    api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    schema = crd_schema(api_version, kind)
    if schema is not None:
        validator = jsonschema.Draft202012Validator(schema)
        problems = [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        ]
        if not problems and kind == "PrometheusRule" and promtool is not None:
            problems = promtool_problems(doc, promtool)
        return problems
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(map(str, exc.path)) or "<root>"
        return [f"{path}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {api_version} {kind}: neither Kubernetes {version} "
                f"nor {SCHEMAS}"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate Kubernetes manifests offline.")
    parser.add_argument("sources", nargs="+", help="kustomization dir, manifest file, or -")
    parser.add_argument("--kubernetes-version", default=KUBERNETES_VERSION)
    parser.add_argument("--no-promtool", action="store_true",
                        help="skip promtool check rules for PrometheusRule")
    args = parser.parse_args(argv)
    promtool = None if args.no_promtool else shutil.which("promtool")
    failed = checked = 0
    for source in args.sources:
        for origin, doc in documents(source):
            checked += 1
            name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            for problem in validate(doc, args.kubernetes_version, promtool):
                failed += 1
                print(f"{origin} {name}: {problem}", file=sys.stderr)
    if checked == 0:
        print("no manifests found", file=sys.stderr)
        return 1
    print(f"{checked} manifests checked, {failed} problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Packaging metadata in its current form (issue 13, item 13).

setuptools warns three times per install when `project.license` is a TOML table; the SPDX
string needs setuptools 77 or later as the build backend. Checked statically here (a build
needs the network for its isolated backend); the warning-free build was checked by hand
with `pip wheel -v --no-deps .` (see CHANGELOG).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_license_is_an_spdx_expression_with_a_backend_that_reads_it() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "Apache-2.0"
    [setuptools] = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    match = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools)
    assert match is not None
    assert int(match.group(1)) >= 77

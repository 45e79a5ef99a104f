"""Check types whose extra is missing register as unavailable and name the extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from checks.registry import known_types
from tests.realtools import REPO

PROGRAM = textwrap.dedent(
    """
    import sys
    for name in sys.argv[1].split(","):
        sys.modules[name] = None  # the import of this package fails
    from checks.registry import MissingExtraError, known_types, lookup
    assert sys.argv[2] in known_types()
    try:
        lookup(sys.argv[2])
    except MissingExtraError as exc:
        print(exc)
    else:
        raise SystemExit("lookup succeeded")
    """
)


class TestMissingExtras:
    @pytest.mark.parametrize(
        ("blocked", "check_type", "extra"),
        [
            ("pkcs11", "pkcs11", "pkcs11"),
            ("aiomqtt", "mqtt_broadcast", "mqtt"),
            ("eth_account", "evm_broadcast", "evm"),
        ],
    )
    def test_type_without_its_extra_names_the_extra(
        self, blocked: str, check_type: str, extra: str
    ) -> None:
        done = subprocess.run(
            [sys.executable, "-c", PROGRAM, blocked, check_type],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"pip install 'sla-probe[{extra}]'" in done.stdout

    def test_all_builtin_types_are_known(self) -> None:
        assert {
            "http", "signing", "pkcs11", "mqtt_broadcast", "evm_broadcast", "evm_head",
            "tcp", "tls", "dns",
        } <= set(known_types())

"""`sla-probe demo`: the scripted vendor, decided window by window, matches its own script."""

from __future__ import annotations

import io

from probe.demo import run_demo


class TestDemo:
    async def test_every_scripted_window_gets_the_verdict_its_rule_implies(self) -> None:
        out = io.StringIO()
        code = await run_demo(window=2, duration=28, listen="127.0.0.1:0", state_dir=None,
                              out=out)
        assert code == 0
        rows = [line.split() for line in out.getvalue().splitlines() if line[:4].isdigit()]
        first = min(r[0] for r in rows)  # the daemon started inside it: partly measured
        seen: dict[tuple[str, str, str], set[str]] = {}
        for r in rows:
            if r[0] == first:
                continue
            contract, service, verdict = r[1], r[2], r[3]
            script = " ".join(r[next(i for i, x in enumerate(r) if x.endswith("%")) + 1:])
            seen.setdefault((contract, service, script), set()).add(verdict)
        outage, partial = "full outage (HTTP 503)", "partial outage (first half fails)"
        bad_sigs = "bad signatures (signing service)"
        assert seen[("vendor-all", "api", outage)] == {"down"}
        assert seen[("vendor-any", "api", outage)] == {"down"}
        assert seen[("vendor-all", "api", partial)] == {"up"}
        assert seen[("vendor-any", "api", partial)] == {"down"}
        assert seen[("vendor-all", "signing", bad_sigs)] == {"down"}
        assert seen[("vendor-all", "api", bad_sigs)] == {"up"}
        assert seen[("vendor-all", "api", "healthy")] == {"up"}
        assert seen[("vendor-all", "signing", "healthy")] == {"up"}

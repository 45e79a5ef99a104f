"""The report's "vendor's word" section: declared against measured, per service.

Rendered from the same dicts as the JSON (`probe.feeds.plan.reconciliation_json`), so every
format says the same: what the vendor declared per impact level, what we measured, each
declared incident with our measurement beside it (and our coverage when we saw nothing),
and the incidents we measured that the vendor never declared.
"""

from __future__ import annotations

from typing import Any


def _impacts(minutes: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v} min" for k, v in minutes.items()) or "nothing"


def vendor_lines(rows: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for r in rows:
        out.append(f"{r['service']}: the vendor declared {_impacts(r['declared_minutes'])}; "
                   f"we measured {r['measured_down_minutes']} min down")
        for d in r["declared"]:
            seen = (f"we measured {d['measured_minutes']} min" if d["seen"] else
                    f"we saw no downtime (our coverage {d['our_coverage_percent']} %)")
            title = f" “{d['title']}”" if d["title"] else ""
            out.append(f"  declared {d['reference']}{title} [{d['impact']}] {d['start']} .. "
                       f"{d['end']}{' (open)' if d['open'] else ''}: the vendor says "
                       f"{d['declared_minutes']} min, {seen}")
        out += [f"  undeclared: we measured {u['minutes']} min down {u['start']} .. {u['end']};"
                " the vendor declared nothing" for u in r["undeclared"]]
    return out

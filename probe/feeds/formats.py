"""The JSON status-page formats, each parsed into `Announcement`s (pure: bytes in).

Anything that is not the documented shape raises `FeedFormatError` with what was expected,
so a vendor that changes its format gets a clear log line and a `vendor_feed_up` of 0, never
a silently empty import. Fields beyond the ones we need are ignored.

- Atlassian Statuspage v2: `/api/v2/incidents.json`, `/api/v2/scheduled-maintenances.json`,
  `/api/v2/components.json`. Incident impact is the incident's `impact`
  (`none|minor|major|critical`); its components are `components[]` plus every
  `incident_updates[].affected_components[].code`/`name`.
- Instatus `summary.json`: `activeIncidents` (`started`, `impact`) and `activeMaintenances`
  (`start`, `duration` in minutes). No creation time, no components: the feed's `*` mapping.
- Better Stack `index.json`: status reports, either a top-level `status_reports` list or
  JSON:API `included` items of type `status_report`, with `report_type`, `starts_at`,
  `ends_at` and `affected_resources[]` (`status_page_resource_id`, `status`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from probe.contracts.vendor import Announcement


class FeedFormatError(ValueError):
    """The document is not the format the feed is configured for."""


def load_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedFormatError(f"{what}: not JSON ({exc})") from None


def timestamp(value: Any, what: str) -> float | None:
    """ISO 8601 with an offset (or Z) → epoch seconds; None stays None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FeedFormatError(f"{what}: expected an ISO 8601 time, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FeedFormatError(f"{what}: not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise FeedFormatError(f"{what}: time without a UTC offset: {value[:40]!r}")
    return parsed.timestamp()


def _list(doc: Any, key: str, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get(key), list):
        raise FeedFormatError(f"{what}: expected an object with a list {key!r}")
    items: list[Mapping[str, Any]] = doc[key]
    if not all(isinstance(i, Mapping) for i in items):
        raise FeedFormatError(f"{what}: {key!r} must hold objects")
    return items


def _id(item: Mapping[str, Any], what: str) -> str:
    value = item.get("id")
    if not isinstance(value, str | int) or value == "":
        raise FeedFormatError(f"{what}: an item without an id")
    return str(value)


# -- Atlassian Statuspage v2 ------------------------------------------------------------------

def statuspage_components(body: bytes) -> dict[str, str]:
    """id → name of every component on the page (`components.json`)."""
    items = _list(load_json(body, "components.json"), "components", "components.json")
    return {_id(c, "components.json"): str(c.get("name", "")) for c in items}


def _sp_components(item: Mapping[str, Any]) -> tuple[str, ...]:
    names: set[str] = set()
    for c in item.get("components") or ():
        if isinstance(c, Mapping):
            names.update(str(c[k]) for k in ("id", "name") if c.get(k))
    for update in item.get("incident_updates") or ():
        for c in (update.get("affected_components") or ()) if isinstance(update, Mapping) else ():
            if isinstance(c, Mapping):
                names.update(str(c[k]) for k in ("code", "name") if c.get(k))
    return tuple(sorted(names))


def statuspage(incidents: bytes, maintenances: bytes) -> list[Announcement]:
    out: list[Announcement] = []
    for item in _list(load_json(incidents, "incidents.json"), "incidents", "incidents.json"):
        w = f"incidents.json {item.get('id')}"
        out.append(Announcement(
            vendor_id=_id(item, "incidents.json"), kind="incident",
            title=str(item.get("name", "")), status=str(item.get("status", "")),
            created_at=timestamp(item.get("created_at"), w),
            updated_at=timestamp(item.get("updated_at"), w),
            start=timestamp(item.get("started_at") or item.get("created_at"), w),
            end=timestamp(item.get("resolved_at"), w),
            components=_sp_components(item), impact=str(item.get("impact") or "none"),
            url=str(item.get("shortlink") or ""),
        ))
    doc = load_json(maintenances, "scheduled-maintenances.json")
    for item in _list(doc, "scheduled_maintenances", "scheduled-maintenances.json"):
        w = f"scheduled-maintenances.json {item.get('id')}"
        status = str(item.get("status", ""))
        start = timestamp(item.get("scheduled_for"), w)
        end = timestamp(item.get("scheduled_until"), w)
        if start is None or end is None:
            raise FeedFormatError(f"{w}: scheduled_for and scheduled_until are required")
        out.append(Announcement(
            vendor_id=_id(item, "scheduled-maintenances.json"), kind="maintenance",
            title=str(item.get("name", "")), status=status,
            created_at=timestamp(item.get("created_at"), w),
            updated_at=timestamp(item.get("updated_at"), w),
            start=start, end=end, components=_sp_components(item),
            impact="maintenance", cancelled=status == "cancelled",
            url=str(item.get("shortlink") or ""),
        ))
    return out


# -- Instatus -----------------------------------------------------------------------------------

_INSTATUS_IMPACT = {"MAJOROUTAGE": "major", "PARTIALOUTAGE": "partial", "MINOROUTAGE": "minor",
                    "DEGRADEDPERFORMANCE": "minor", "OPERATIONAL": "none"}


def _key(item: Mapping[str, Any], *fallback: str) -> str:
    if item.get("id"):
        return str(item["id"])
    return "|".join(str(item.get(k, "")) for k in fallback)


def instatus(body: bytes) -> list[Announcement]:
    doc = load_json(body, "summary.json")
    out: list[Announcement] = []
    for item in _list(doc, "activeIncidents", "summary.json"):
        w = f"summary.json incident {item.get('name')!r}"
        out.append(Announcement(
            vendor_id=_key(item, "url", "started"), kind="incident",
            title=str(item.get("name", "")), status=str(item.get("status", "")),
            start=timestamp(item.get("started"), w),
            end=timestamp(item.get("resolved"), w),
            impact=_INSTATUS_IMPACT.get(str(item.get("impact", "")), "unknown"),
            url=str(item.get("url", "")),
        ))
    for item in _list(doc, "activeMaintenances", "summary.json"):
        w = f"summary.json maintenance {item.get('name')!r}"
        start = timestamp(item.get("start"), w)
        try:
            minutes = float(item.get("duration"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise FeedFormatError(f"{w}: duration must be minutes") from None
        if start is None or minutes <= 0:
            raise FeedFormatError(f"{w}: start and a positive duration are required")
        status = str(item.get("status", ""))
        out.append(Announcement(
            vendor_id=_key(item, "url", "start"), kind="maintenance",
            title=str(item.get("name", "")), status=status, start=start,
            end=start + minutes * 60, impact="maintenance",
            cancelled=status in {"CANCELLED", "CANCELED"}, url=str(item.get("url", "")),
        ))
    return out


# -- Better Stack -------------------------------------------------------------------------------

_BS_RANK = {"downtime": 3, "degraded": 2, "maintenance": 1}


def _bs_items(doc: Any) -> tuple[list[Mapping[str, Any]], dict[str, str]]:
    """(status reports, resource id → public name) from either documented shape."""
    if isinstance(doc, Mapping) and isinstance(doc.get("status_reports"), list):
        reports = _list(doc, "status_reports", "index.json")
        return [r.get("attributes", r) | {"id": r.get("id")} for r in reports], {}
    if not isinstance(doc, Mapping) or not isinstance(doc.get("included"), list):
        raise FeedFormatError("index.json: expected `status_reports` or JSON:API `included`")
    included: Iterable[Any] = doc["included"]
    reports, names = [], {}
    for item in included:
        if not isinstance(item, Mapping) or not isinstance(item.get("attributes"), Mapping):
            raise FeedFormatError("index.json: `included` must hold objects with attributes")
        if item.get("type") == "status_report":
            reports.append(item["attributes"] | {"id": item.get("id")})
        elif item.get("type") == "status_page_resource":
            names[str(item.get("id"))] = str(item["attributes"].get("public_name", ""))
    return reports, names


def betterstack(body: bytes) -> list[Announcement]:
    reports, names = _bs_items(load_json(body, "index.json"))
    out: list[Announcement] = []
    for r in reports:
        w = f"index.json status report {r.get('id')}"
        resources = [a for a in r.get("affected_resources") or () if isinstance(a, Mapping)]
        components = sorted({str(a.get("status_page_resource_id")) for a in resources}
                            | {names[k] for a in resources
                               if (k := str(a.get("status_page_resource_id"))) in names})
        states = [str(a.get("status", "")) for a in resources]
        maintenance = r.get("report_type") == "maintenance"
        start = timestamp(r.get("starts_at"), w)
        if start is None:
            raise FeedFormatError(f"{w}: starts_at is required")
        out.append(Announcement(
            vendor_id=_id(r, "index.json"), kind="maintenance" if maintenance else "incident",
            title=str(r.get("title", "")), status=str(r.get("aggregate_state", "")),
            created_at=timestamp(r.get("created_at"), w), start=start,
            end=timestamp(r.get("ends_at"), w), components=tuple(components),
            impact="maintenance" if maintenance else max(
                states, key=lambda s: _BS_RANK.get(s, 0), default="unknown") or "unknown",
            cancelled=str(r.get("aggregate_state", "")) == "cancelled",
        ))
    return out

"""The HTTP face: the one listener and everything it serves.

Kept in one room so that what the probe shows to the outside (scrapes, health, the JSON
API, the status page) and how the listener is protected (the exporter-toolkit web config)
can be read, and changed, together, without touching the parts that measure and decide:

- `app`: the aiohttp application (`/metrics`, `/-/healthy`, `/-/ready`) and the listener;
- `api`: the JSON handlers under `/api/v1/`;
- `status`: the status page at `/`, split as `probe.report` is (data, HTML, routes);
- `config`: `--web.config.file` (TLS, basic auth, headers), in exporter-toolkit format.

Nothing here writes to the ledger; it only reads.
"""

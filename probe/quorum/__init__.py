"""Several vantage points, one verdict: signed verdicts over MQTT, decided by quorum.

- `config`: the top-level `quorum:` section;
- `codec`: keys, signatures, the wire format and topics;
- `store`: the ledger tables (outbox, votes, rejections), used on the ledger thread;
- `rules`: the pure quorum rule (`any`, `majority`, `all`, `k_of_n`);
- `link`: the MQTT connection (publish the outbox, receive and verify peers' votes);
- `decider`: quorum verdicts per window, stored with `scope="quorum"`;
- `node`: wiring for the daemon and the metrics.
"""

"""Evidence that holds in a dispute: the chained ledger's signed heads, their RFC 3161
timestamps, the monthly evidence pack and its verifier (docs/evidence.md).

`format` (the canonical bytes everything hashes) and `config` sit low in the layers, so the
store can hash inside its own transactions; the rest sits with the faces, above the store.
"""

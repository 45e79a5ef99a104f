"""RFC 3161 timestamps of signed chain heads (`rfc3161-client`).

The daemon asks the TSA for a token over each signed head's payload and stores the whole
response; a TSA that is down only delays the token (the head waits, is retried later and
the failure is counted), it never stops probing. The verifier checks a token against the
head it stamps and, given the TSA's CA, the signature chain and the critical
`timeStamping` key usage.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import aiohttp
from cryptography import x509
from rfc3161_client import (
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)
from rfc3161_client.base import HashAlgorithm

MAX_RESPONSE = 64 * 1024


class TsaError(Exception):
    """The TSA did not give a usable token; the message says why (no secrets in it)."""


async def request_timestamp(session: aiohttp.ClientSession, url: str, data: bytes,
                            timeout: float) -> bytes:
    """The TSA's DER response over SHA-256(`data`), checked to stamp exactly that."""
    request = (TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256)
               .nonce(nonce=True).cert_request(cert_request=True).build())
    try:
        async with session.post(
            url, data=request.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False,
        ) as resp:
            if resp.status != 200:
                raise TsaError(f"TSA answered HTTP {resp.status}")
            body = await resp.content.read(MAX_RESPONSE + 1)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise TsaError(f"TSA unreachable ({type(exc).__name__})") from None
    if len(body) > MAX_RESPONSE:
        raise TsaError("TSA response too large")
    problem = check_response(body, data)
    if problem is None and decode_timestamp_response(body).tst_info.nonce != request.nonce:
        problem = "nonce differs from the request"
    if problem is not None:
        raise TsaError(problem)
    return body


def check_response(der: bytes, data: bytes) -> str | None:
    """Without a CA: is it a granted token over SHA-256(`data`)? The problem, or None."""
    try:
        response = decode_timestamp_response(der)
    except ValueError as exc:
        return f"not a timestamp response ({exc})"
    if PKIStatus(response.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        return f"TSA refused (status {response.status})"
    imprint = response.tst_info.message_imprint
    if imprint.message != hashlib.sha256(data).digest():
        return "token stamps another message"
    return None


def verify_token(der: bytes, data: bytes, ca_pem: bytes | None) -> tuple[datetime, str | None]:
    """(the token's time, the problem or None); with `ca_pem` the chain and EKU too."""
    problem = check_response(der, data)
    if problem is not None:
        return datetime.fromtimestamp(0).astimezone(), problem
    response = decode_timestamp_response(der)
    when = response.tst_info.gen_time
    if ca_pem is None:
        return when, None
    roots = x509.load_pem_x509_certificates(ca_pem)
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify_message(response, data)
    except (VerificationError, ValueError) as exc:
        return when, f"token does not verify against the TSA CA ({exc})"
    return when, None

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _owned_default_event_loop() -> Iterator[None]:
    """Work around pytest-asyncio#724: it may create a default loop it never closes.

    With `filterwarnings = error` that surfaces as an "unclosed event loop" failure in
    whichever async test follows a sync one. Owning (and closing) the default loop avoids it.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()

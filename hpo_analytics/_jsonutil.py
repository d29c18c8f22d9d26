"""JSON parsing with orjson when it is installed, the stdlib otherwise; reading nested JSON objects."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

try:  # pragma: no cover - exercised by whichever is installed
    import orjson

    def loads(data: bytes | bytearray | memoryview | str) -> Any:
        return orjson.loads(data)

    JSONDecodeError: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover
    def loads(data: bytes | bytearray | memoryview | str) -> Any:
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        return json.loads(data)

    JSONDecodeError = (ValueError,)


def dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` through nested objects; ``None`` as soon as a level is missing or not an object."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def dumps(value: Any) -> str:
    """Compact JSON text of one value (``NaN``/``Infinity`` allowed, as Python writes them)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=True, default=str)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many short-lived objects.

    Parsing a page creates hundreds of thousands of containers; each triggers
    collection passes that find nothing (JSON has no cycles). The previous
    state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

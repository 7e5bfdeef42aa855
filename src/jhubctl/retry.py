"""Retry-After, read the way RFC 9110 allows it: seconds or an HTTP date (proxies send either)."""

from __future__ import annotations

import time


def retry_after(value: str | None, default: float = 1.0) -> float:
    """Seconds to wait: Retry-After may be seconds or an HTTP date (RFC 9110), either from a proxy."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return default

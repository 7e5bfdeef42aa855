"""Request records and the thread-safe request log every fake keeps."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Generic, Iterator, TypeVar


@dataclass
class RequestRecord:
    """One request as the fake saw it (Authorization header removed)."""

    seq: int
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    status: int | None = None
    #: Set when the answer came from fault injection (the status it injected).
    fault: int | None = None
    #: The answer sent.
    response: Any = None

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


R = TypeVar("R", bound=RequestRecord)


class RequestLog(Generic[R]):
    """Thread-safe, append-only list of request records (of ``record_class``)."""

    def __init__(self, record_class: type[R]) -> None:
        self.record_class = record_class
        self._lock = threading.Lock()
        self._items: list[R] = []

    def new(self, *args: Any, **kwargs: Any) -> R:
        """Append a record numbered with the next ``seq``; the arguments are its other fields."""
        with self._lock:
            rec = self.record_class(len(self._items), *args, **kwargs)
            self._items.append(rec)
            return rec

    def snapshot(self) -> list[R]:
        with self._lock:
            return list(self._items)

    def writes(self, *, include_faulted: bool = False) -> list[R]:
        """Write requests in order; those answered by fault injection only with ``include_faulted``."""
        return [r for r in self.snapshot() if r.is_write and (include_faulted or r.fault is None)]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __iter__(self) -> Iterator[R]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, index: int) -> R:
        with self._lock:
            return self._items[index]

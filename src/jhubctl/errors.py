"""Exit codes and the one error type that carries them.

Users script jhubctl the way they script `az` and `kubectl`, so exit codes are part of the interface:
they are documented in docs/exit-codes.md and never reused for another meaning.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # an external system failed (hub, Azure, Kubernetes) or an unexpected error
    USAGE = 2  # bad input: flags, config file, names; nothing was changed
    CODE_ERROR = 3  # exec: the user's code raised
    TIMEOUT = 4  # a wait ran out (server start, code execution)
    LOCKED = 5  # another jhubctl holds the state lock
    NOT_FOUND = 6  # the thing asked about does not exist (no local hub, no such server)
    KERNEL_DIED = 7  # exec: the kernel died running the code (and was restarted): its variables are lost
    OUTPUT_DROPPED = 8  # exec: the code ran, but the server's rate limit dropped some of its output
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class JhubctlError(Exception):
    """An error a user can act on: printed as one line (plus an optional hint), never as a traceback."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(JhubctlError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    pass


class LockedError(JhubctlError):
    exit_code = ExitCode.LOCKED


class NotFoundError(JhubctlError):
    exit_code = ExitCode.NOT_FOUND


class TimeoutExceeded(JhubctlError):
    exit_code = ExitCode.TIMEOUT

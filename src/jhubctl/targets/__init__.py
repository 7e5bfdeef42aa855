"""What differs between targets, asked of one object: bring the hub up, take it down, where it is, is it well.

`local` runs a hub on this machine; `kubernetes` installs the chart into an existing cluster; `azure`
provisions the cluster first. Commands call `target_for(loaded)` and never test the target's name, so
a new target is one module here, and each target alone knows which journal step records its hub.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import NotFoundError

if TYPE_CHECKING:
    from ..config_file import Loaded
    from ..output import Output
    from ..packages import Lock


@dataclass(frozen=True)
class Health:
    """How the hub looks from here; `health` is the one phrase `status` prints."""

    health: str
    url: str | None = None
    version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.version is not None

    def as_dict(self) -> dict[str, Any]:
        return {"health": self.health, "url": self.url, "version": self.version, **self.details}


@dataclass(frozen=True)
class UpResult:
    """What `up` leaves behind: the hub, whether this run changed anything, and what a user needs next."""

    url: str
    changed: bool
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "changed": self.changed, **self.facts}


@dataclass(frozen=True)
class DownResult:
    url: str | None
    stopped: bool
    message: str
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "stopped": self.stopped, **self.facts}


class Target(ABC):
    name: ClassVar[str]
    #: What a user runs to get a hub recorded (named in errors when there is none).
    setup_command: ClassVar[str] = "jhubctl up"

    def __init__(self, loaded: Loaded):
        self.loaded = loaded

    @abstractmethod
    def up(self, out: Output, *, smoke_test: bool = True) -> UpResult:
        """Bring everything up that is missing or out of date; a re-run changes nothing."""

    @abstractmethod
    def down(self, out: Output) -> DownResult:
        """Stop the hub; user data stays."""

    @abstractmethod
    def recorded_url(self) -> str | None:
        """The hub URL this target's own steps recorded, if any."""

    def hub_url(self) -> str:
        """hub.url wins (an existing hub, CI); else what this target recorded."""
        if self.loaded.values.hub.url:
            return self.loaded.values.hub.url
        url = self.recorded_url()
        if url is None:
            raise NotFoundError(
                f"no hub is recorded in {self.loaded.state_dir} (target {self.name})",
                hint=f"run `{self.setup_command}`, or set hub.url / JHUBCTL_HUB_URL to an existing hub",
            )
        return url

    def interpreter(self) -> dict[str, Any]:
        """The package set the servers run, for `status`; targets add how they run it."""
        from ..errors import ConfigError
        from ..packages import describe

        try:
            return {"lock": describe(self.loaded)}
        except ConfigError as exc:
            return {"lock": {"state": f"unusable: {exc.message}"}}

    def health(self) -> Health:
        from ..hubapi.client import probe

        try:
            url = self.hub_url()
        except NotFoundError:
            return Health("not deployed")
        version = probe(url)
        return Health(f"running (JupyterHub {version})" if version else "not answering", url, version)


def interpreter_lock(loaded: Loaded, out: Output, *, uv_bin: str | None = None, write: bool = True) -> Lock:
    """The interpreter lock the servers' environment is built from (the local venv, the singleuser image),
    resolved first, and said so, if missing or made from another input; ``write=False`` (a dry run)
    resolves it without writing it."""
    from ..packages import ensure_lock

    with out.progress("resolving the interpreter lock"):
        lock, resolved = ensure_lock(loaded, uv_bin, write=write)
    said = "resolved" if write else "would be resolved (not written: a dry run)"
    (out.success if resolved and write else out.info if resolved else out.debug)(
        f"interpreter lock {lock.path} {said if resolved else 'current'} ({len(lock.pins())} packages, "
        f"sha256 {lock.sha256[:12]})")
    return lock


#: target name -> (module in this package, class): imported only when chosen.
TARGETS = {
    "local": ("local", "LocalTarget"),
    "kubernetes": ("cluster", "KubernetesTarget"),
    "azure": ("cluster", "AzureTarget"),
}


def target_for(loaded: Loaded) -> Target:
    """The target the config names."""
    from importlib import import_module

    module, cls = TARGETS[loaded.values.target]
    return getattr(import_module(f".{module}", __name__), cls)(loaded)

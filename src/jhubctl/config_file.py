"""Finding and reading the config file, and the cache of its validated values.

Validating the config means importing pydantic and building every model of `config.py`: more than a
third of a warm `jhubctl exec` (docs/benchmarks.md). So the validated values are kept in the state dir
(`config-cache.json`, owner-only, replaced atomically), keyed by everything they depend on: the file's
path and bytes, the environment overrides, the models' code and pydantic's version. A hit gives the same
values without pydantic; every other load validates as before and refreshes the cache, so an error is
always the models' own. The config has no secret in it (tokens live in secrets.json), so neither has the
cache: environment values enter the key only as a hash, and a config whose values hold a URL with a
password in it is validated every time instead of kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import Config

DEFAULT_CONFIG_NAME = "jhubctl.yaml"
STATE_DIR_NAME = ".jhubctl"
CACHE_FILE = "config-cache.json"
#: The models' code: the values a file validates to change with it.
MODELS = Path(__file__).with_name("config.py")

#: Environment variables that override config keys; users need them in CI and for sovereign clouds.
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "JHUBCTL_ARM_ENDPOINT": ("azure", "arm_endpoint"),
    "JHUBCTL_GRAPH_ENDPOINT": ("azure", "graph_endpoint"),
    "JHUBCTL_IP_ECHO_URL": ("network", "ip_echo_url"),
    "JHUBCTL_HUB_URL": ("hub", "url"),
    "JHUBCTL_HELM": ("tools", "helm"),
    "JHUBCTL_DOCKER": ("tools", "docker"),
    "JHUBCTL_KUBECTL": ("tools", "kubectl"),
    "JHUBCTL_KUBECONFIG": ("kubernetes", "kubeconfig"),
    "JHUBCTL_KUBE_CONTEXT": ("kubernetes", "context"),
}


class Values:
    """Validated config values, read the way the model reads (`values.servers.exec_timeout`) but with no
    pydantic behind them: what the server commands read. The model itself, with its methods, is
    `Loaded.config`."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            value = self._data[name]
        except KeyError:
            raise AttributeError(f"the config has no key {name!r}") from None
        return Values(value) if isinstance(value, dict) else value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Values) and self._data == other._data

    def __repr__(self) -> str:
        return f"Values({self._data!r})"


@dataclass(frozen=True)
class Loaded:
    """The effective config plus where it came from: commands need the file's folder for the state dir,
    and the environment it was read with (secrets and overrides come from there, injectable in tests).

    `values` is always there; `config`, the model, is validated on first use when the values came from
    the cache (from the very bytes the values were read from).
    """

    values: Values
    path: Path | None
    state_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, compare=False, repr=False)
    #: The file's bytes as they were read: what `config` validates after a cache hit.
    raw: bytes | None = field(default=None, compare=False, repr=False)
    _config: Config | None = field(default=None, compare=False, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            object.__setattr__(self, "_config", _validate(self.path, self.raw, self.environ))
        assert self._config is not None
        return self._config


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for var, (section, key) in ENV_OVERRIDES.items():
        if environ.get(var):
            data.setdefault(section, {})
            if not isinstance(data[section], dict):
                continue  # parse_config reports the malformed section
            data[section][key] = environ[var]
    return data


def _parse_yaml(path: Path, raw: bytes) -> Any:
    """The file's YAML, refusing what YAML itself lets through silently: a key given twice (the last one wins)."""
    import yaml  # only when there is a file to validate: the cached and the default paths stay without it

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ConfigError(f"{path}: key '{key}' appears twice, on line {seen[key]} and line {line}",
                                      hint="keep one of them")
                seen[key] = line
            return super().construct_mapping(node, deep)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte offset {exc.start}: {exc.object[exc.start]:#04x})",
                          hint="save the file as UTF-8") from None
    loader = UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()


def _validate(path: Path | None, raw: bytes | None, environ: Mapping[str, str]) -> Config:
    from .config import parse_config

    data = _parse_yaml(path, raw) if path is not None and raw is not None else {}
    if data is None:  # an empty or all-comment file means defaults, and env overrides still apply
        data = {}
    if isinstance(data, dict):
        data = _apply_env(data, environ)
    return parse_config(data, str(path) if path else "config")


def _find(path: Path | None, environ: Mapping[str, str]) -> Path | None:
    """An explicitly named file must exist; an absent default means defaults."""
    explicit = path or (Path(environ["JHUBCTL_CONFIG"]) if environ.get("JHUBCTL_CONFIG") else None)
    if explicit is None:
        default = Path.cwd() / DEFAULT_CONFIG_NAME
        return default if default.is_file() else None
    if explicit.is_dir():
        raise ConfigError(f"config file {explicit} is a directory", hint="name the YAML file in it")
    if not explicit.is_file():
        raise ConfigError(
            f"config file {explicit} does not exist",
            hint="create it from config.example.yaml, or drop --config/JHUBCTL_CONFIG to use the defaults",
        )
    return explicit


def _key(path: Path | None, raw: bytes | None, environ: Mapping[str, str]) -> str:
    """Everything the validated values depend on, hashed: a change to any of it is a miss."""
    from importlib.util import find_spec

    pydantic = find_spec("pydantic")
    pydantic_version = Path(pydantic.origin).with_name("version.py").read_bytes() if pydantic and pydantic.origin else b""
    parts = [
        str(path) if path else "",
        hashlib.sha256(raw).hexdigest() if raw is not None else "",
        {var: environ.get(var) for var in ENV_OVERRIDES},
        hashlib.sha256(MODELS.read_bytes()).hexdigest(),
        hashlib.sha256(pydantic_version).hexdigest(),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _to_json(value: Any) -> Any:
    if isinstance(value, PurePath):
        return {"$path": str(value)}
    raise TypeError(f"{type(value).__name__} in the config's values")


def _from_json(obj: dict[str, Any]) -> Any:
    return Path(obj["$path"]) if obj.keys() == {"$path"} else obj


def _cached(cache: Path, key: str) -> dict[str, Any] | None:
    """The cached values for `key`, if the file is ours, private, whole and about the same input."""
    try:
        fd = os.open(cache, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        with os.fdopen(os.dup(fd), encoding="utf-8") as fh:
            doc = json.loads(fh.read(), object_hook=_from_json)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if not isinstance(doc, dict) or doc.get("key") != key or not isinstance(doc.get("values"), dict):
        return None
    return doc["values"]


def _credentials(value: Any) -> bool:
    """Whether a URL with a password (https://user:secret@host) is among the values: those are not kept."""
    if isinstance(value, dict):
        return any(_credentials(v) for v in value.values())
    if isinstance(value, list):
        return any(_credentials(v) for v in value)
    if not isinstance(value, str) or "@" not in value:
        return False
    try:
        return urlsplit(value).password is not None
    except ValueError:
        return False


def _store(cache: Path, key: str, config: Config) -> dict[str, Any]:
    """Write the values for the next run (only into a state dir that exists: loading creates nothing), and
    return them as a hit would read them back."""
    from .state import write_private

    values = config.model_dump()
    text = json.dumps({"key": key, "values": values}, default=_to_json, sort_keys=True)
    if cache.parent.is_dir() and not _credentials(values):
        try:
            write_private(cache, text + "\n")
        except OSError:
            pass  # a read-only state dir: the next run validates again
    return json.loads(text, object_hook=_from_json)["values"]


def load_config(
    path: Path | None = None,
    state_dir: Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Loaded:
    """Find, read and validate the config (or take its values from the cache)."""
    found = _find(path, environ)
    raw: bytes | None = None
    if found is not None:
        try:
            raw = found.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {found}: {exc.strerror}") from None
    if state_dir is None and environ.get("JHUBCTL_STATE_DIR"):
        state_dir = Path(environ["JHUBCTL_STATE_DIR"])
    if state_dir is None:
        state_dir = (found.parent if found else Path.cwd()) / STATE_DIR_NAME
    state_dir = state_dir.absolute()

    cache, key = state_dir / CACHE_FILE, _key(found, raw, environ)
    values = _cached(cache, key)
    config = None
    if values is None:
        config = _validate(found, raw, environ)
        values = _store(cache, key, config)
    return Loaded(Values(values), found, state_dir, environ, raw, config)

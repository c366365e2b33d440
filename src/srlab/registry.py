"""One generic registry: names map to objects or to lazy ``"module:attr"`` targets.

Every registry of srlab (backends, benchmarks, strategies, attacks, judges) is one of these, and
each is open: a definition registers itself with the decorator, and a third-party package adds
its own through an entry point in the registry's group, e.g. in its ``pyproject.toml``::

    [project.entry-points."srlab.judges"]
    my-judge = "my_package.judges:MyJudge"

Entry points are read the first time a registry is asked for a name, so a plugin's module is
only imported when it is used. ``base`` checks what a name resolves to.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Generic, TypeVar

from srlab.errors import SrlabError, UnknownNameError

T = TypeVar("T")

ENTRY_POINT_PREFIX = "srlab."


class Registry(Generic[T]):
    """Maps names to factories. Lazy targets keep heavy imports (torch, vllm) off the import path."""

    def __init__(self, kind: str, group: str | None = None, base: type | None = None) -> None:
        self.kind = kind
        self.group = group  # entry-point group, e.g. "srlab.judges"
        self.base = base
        self._entries: dict[str, T | str] = {}
        self._plugins_loaded = group is None

    def register(self, name: str, target: T | str | None = None) -> Callable[[T], T] | None:
        """``registry.register("x", obj)``, ``registry.register("x", "pkg.mod:attr")`` or as a decorator."""
        if target is not None:
            self._entries[name] = target
            return None

        def decorator(obj: T) -> T:
            self._entries[name] = obj
            return obj

        return decorator

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry in metadata.entry_points(group=self.group or ""):
            # A plugin never silently replaces a built-in of the same name.
            self._entries.setdefault(entry.name, entry.value)

    def get(self, name: str) -> T:
        self._load_plugins()
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, self._entries)
        entry = self._entries[name]
        if isinstance(entry, str):
            module_name, _, attr = entry.partition(":")
            try:
                entry = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                if module_name.startswith("srlab."):
                    raise
                raise SrlabError(f"{self.kind} {name!r}: cannot load {module_name}:{attr} ({exc})") from exc
            if self.base is not None and isinstance(entry, type) and not issubclass(entry, self.base):
                raise SrlabError(f"{self.kind} {name!r}: {module_name}:{attr} is not a {self.base.__name__}")
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

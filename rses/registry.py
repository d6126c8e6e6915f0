"""Name -> object registries with lazy imports, entry points and "did you mean" errors.

Entries may be objects or lazy ``"module:Object"`` strings, so listing names never imports torch
or diffusers. Third-party packages add entries through an entry-point group.

Example:
    >>> reg = Registry("colour")
    >>> reg.register("red", "builtins:str")
    >>> reg.get("red") is str
    True
    >>> reg.names()
    ['red']
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from rses.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of objects, each given directly or as a lazy ``"module:Object"`` string.

    Args:
        kind: what the entries are, used in messages ("editor", "metric").
        base_cls: when given, loaded classes must subclass it.
        entry_point_group: an ``importlib.metadata`` group whose installed entry points are added.
    """

    def __init__(self, kind: str, base_cls: type | None = None, entry_point_group: str | None = None):
        self.kind = kind
        self.base_cls = base_cls
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T | str] = {}
        self._entry_points_loaded = entry_point_group is None

    def register(self, name: str, target: T | str | None = None) -> Callable[[T], T] | None:
        """Add ``target`` under ``name``; without ``target`` return a decorator."""
        if target is None:

            def decorator(obj: T) -> T:
                self._add(name, obj)
                return obj

            return decorator
        self._add(name, target)
        return None

    def _add(self, name: str, target: T | str) -> None:
        existing = self._entries.get(name)
        if existing is not None and existing is not target and existing != target:
            raise ValueError(
                f"{self.kind} {name!r} is already registered as {existing!r}; cannot add {target!r}"
            )
        self._entries[name] = target

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._entries:
                self._entries[ep.name] = ep.value

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load_entry_points()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._entries

    def get(self, name: str) -> T:
        """The object registered as ``name``, importing it on first use.

        Raises:
            UsageError: unknown name, with close matches and the available names.
        """
        self._load_entry_points()
        if name not in self._entries:
            raise UsageError(self._unknown_message(name))
        target = self._entries[name]
        if isinstance(target, str):
            target = _import_object(target)
            if self.base_cls is not None and not (
                isinstance(target, type) and issubclass(target, self.base_cls)
            ):
                raise TypeError(
                    f"{self.kind} {name!r} -> {target!r} is not a subclass of {self.base_cls.__name__}"
                )
            self._entries[name] = target
        return target

    def _unknown_message(self, name: str) -> str:
        names = sorted(self._entries)
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
        return f"Unknown {self.kind} {name!r}.{hint} Available: {shown or '(none)'}."


def _import_object(path: str):
    module_name, _, attr = path.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj

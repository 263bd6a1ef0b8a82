"""A named registry: one way to register and look up heads, samplers, optimisers and schedules,
each entry with its traits (what the rest of vidact needs to know of it without building it)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from vidact.errors import ConfigError, quote

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; an unknown name fails with the known ones and the nearest match."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._traits: dict[str, Any] = {}

    def register(
        self, name: str, item: T | None = None, traits: Any = None
    ) -> Callable[[T], T] | T:
        """``registry.register("x", obj)``, or ``@registry.register("x")`` as a decorator;
        ``traits``: what ``traits("x")`` answers."""
        self._traits[name] = traits
        if item is not None:
            self._items[name] = item
            return item

        def decorator(obj: T) -> T:
            self._items[name] = obj
            return obj

        return decorator

    def traits(self, name: str) -> Any:
        """The traits ``name`` was registered with; an unknown name fails as ``get`` does."""
        self.get(name)
        return self._traits[name]

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ConfigError(self.unknown(name)) from None

    __getitem__ = get

    def unknown(self, name: object) -> str:
        near = difflib.get_close_matches(str(name), self._items, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return f"unknown {self.kind} {quote(name)}{hint}; known: {', '.join(self.names())}"

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

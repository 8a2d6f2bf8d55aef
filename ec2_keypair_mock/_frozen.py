"""Immutable value classes without ``@dataclass``'s import cost. Strictly private.

``@dataclass`` writes each method of a class as source text and ``exec``s it when the module is
imported: about half a millisecond per frozen class, which added up to a third of what a fresh
process spent loading the call path. A :class:`Frozen` subclass gets the same behaviour from
ordinary methods:

* ``==`` compares the fields of two objects of exactly the same class, and ``hash`` hashes
  them (a class that wants identity instead sets ``__eq__``/``__hash__`` back to ``object``'s,
  as ``eq=False`` did);
* ``repr`` is ``Name(field=value, ...)`` over the fields not in ``_hidden``;
* assigning or deleting an attribute raises :class:`dataclasses.FrozenInstanceError`;
* ``copy`` and ``pickle`` work, slotted or not, and ``_replace(**changes)`` makes a changed copy
  (as ``dataclasses.replace`` did).

A subclass names its fields, in order, in ``_fields`` (and in ``__slots__`` when it is slotted)
and writes its own ``__init__``, setting each field with ``object.__setattr__``.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, TypeVar

__all__ = ["Frozen"]

_F = TypeVar("_F", bound="Frozen")


class Frozen:
    """Base of the package's immutable value classes (see the module docstring)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _hidden: ClassVar[frozenset[str]] = frozenset()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frozen) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        hidden = self._hidden
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields if n not in hidden)
        return f"{type(self).__qualname__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        msg = f"cannot assign to field {name!r}"
        raise FrozenInstanceError(msg)

    def __delattr__(self, name: str) -> None:
        msg = f"cannot delete field {name!r}"
        raise FrozenInstanceError(msg)

    def _replace(self: _F, **changes: Any) -> _F:
        """A copy with ``changes`` made, as ``dataclasses.replace`` made one: every ``__init__``
        takes the fields by their names."""
        fields = dict(zip(self._fields, self._values(), strict=True))
        fields.update(changes)
        return type(self)(**fields)

    def __getstate__(self) -> tuple[Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self._fields, state, strict=True):
            object.__setattr__(self, name, value)

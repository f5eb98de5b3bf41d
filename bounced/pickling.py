"""Cheap pickling for the values worker processes send back to the daemon."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter
from typing import Any, TypeVar

__all__ = ["pickled_by_constructor"]

_T = TypeVar("_T")


def pickled_by_constructor(cls: type[_T]) -> type[_T]:
    """Class decorator (outermost, after `@dataclass`): pickle as `cls(*field values)`.

    Slots dataclasses otherwise pickle through dataclasses' generic `__getstate__` /
    `__setstate__`, which call `fields()` for every object: the analysis results that
    worker processes send to the daemon (`bounced.apply.workers`) unpickled twice as
    slowly, on the process that also answers SMTP. Every field stays included.
    """
    # `type[_T]` does not say _T is a dataclass (`fields` raises TypeError if it is not).
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]  # see above
    if len(names) < 2 or not all(f.init for f in fields(cls)):  # type: ignore[arg-type]  # see above
        raise TypeError(f"{cls.__name__}: needs two or more init fields")
    values: Callable[[Any], tuple[Any, ...]] = attrgetter(*names)

    def __reduce__(self: _T) -> tuple[type[_T], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[assignment,method-assign]  # the decorator's purpose
    return cls

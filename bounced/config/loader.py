"""Turn parsed TOML into typed frozen dataclasses, naming the key of every problem.

Supported field types: str, int, float, bool, `X | None`, `Literal[...]`, `list[X]`,
`tuple[X, ...]`, `dict[str, X]`, and nested dataclasses. A dataclass may define
`validate(self, key: str) -> Iterator[ConfigError]` for checks that span fields; it yields
each problem rather than raising the first. Every problem found is reported at once
(`ConfigErrors`): a wrong type, an unknown key or a failed check in one place does not hide
another elsewhere. A field with `metadata={"internal": True}` is
not a setting (not settable, not listed among the known keys).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from bounced.errors import ConfigError, ConfigErrors

__all__ = ["build", "check", "describe"]

T = TypeVar("T")


def describe(tp: Any) -> str:
    """A short human description of the expected form of a value."""
    origin = get_origin(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(describe(a) for a in get_args(tp) if a is not type(None))
    if origin in (list, tuple):
        return f"a list of {_plural(get_args(tp)[0])}"
    if origin is dict:
        return f"a table of {_plural(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return getattr(tp, "__name__", str(tp))


_PLURALS = {bool: "true/false values", int: "integers", float: "numbers", str: "strings"}


def _plural(tp: Any) -> str:
    """ "strings" for str: the items of a list, said as a list's items are."""
    if tp in _PLURALS:
        return _PLURALS[tp]
    if dataclasses.is_dataclass(tp):
        return "tables"
    if get_origin(tp) in (list, tuple):
        return f"lists of {_plural(get_args(tp)[0])}"
    return f"values, each {describe(tp)}"


def _fail(key: str, tp: Any, value: Any) -> ConfigError:
    shown = repr(value) if not isinstance(value, dict) else "a table"
    return ConfigError(key, f"expected {describe(tp)}, got {shown}")


def _convert(key: str, tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in get_args(tp) if a is not type(None)]
        for arg in args:
            try:
                return _convert(key, arg, value)
            except ConfigError:
                continue
        raise _fail(key, tp, value)
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise _fail(key, tp, value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _fail(key, tp, value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _fail(key, tp, value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _fail(key, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _fail(key, tp, value)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise _fail(key, tp, value)
        item_tp = get_args(tp)[0]
        items = _collect([(f"{key}[{i}]", item_tp, v) for i, v in enumerate(value)])
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(key, tp, value)
        item_tp = get_args(tp)[1]
        names = [str(k) for k in value]
        return dict(zip(names, _collect([(f"{key}.{k}", item_tp, v) for k, v in value.items()]), strict=True))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _fail(key, tp, value)
        return build(tp, value, key)  # type: ignore[arg-type]  # is_dataclass(tp) also admits instances; tp is a type hint, so a class
    raise ConfigError(key, f"unsupported setting type {tp!r}")  # a bug in bounced


def _collect(items: list[tuple[str, Any, Any]]) -> list[Any]:
    """Convert every (key, type, value); all their problems together, or the values."""
    values, problems = [], []
    for item_key, tp, value in items:
        try:
            values.append(_convert(item_key, tp, value))
        except ConfigError as exc:
            problems.extend(_each(exc))
    if problems:
        raise ConfigErrors(problems)
    return values


def build(cls: type[T], data: dict[str, Any], key: str = "") -> T:
    """Build dataclass `cls` from `data`; unknown keys and wrong types raise ConfigError
    (ConfigErrors, listing each, when there are several)."""
    hints = get_type_hints(cls)
    fields = {
        f.name: f
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]  # `cls: type[T]` does not say T is a dataclass
        if not f.metadata.get("internal")
    }
    prefix = f"{key}." if key else ""
    problems: list[ConfigError] = []
    known = ", ".join(sorted(fields))
    for name in sorted(set(data) - set(fields)):
        problems.append(ConfigError(f"{prefix}{name}", f"unknown setting (known here: {known})"))
    kwargs = {}
    for name, value in data.items():
        if name not in fields:
            continue
        try:
            kwargs[name] = _convert(f"{prefix}{name}", hints[name], value)
        except ConfigError as exc:
            problems.extend(_each(exc))
    if problems:
        raise ConfigErrors(problems)
    try:
        obj = cls(**kwargs)
    except TypeError as exc:  # a required field without default is missing
        raise ConfigError(key or "<root>", str(exc)) from None
    check(obj, key)
    return obj


def check(obj: object, key: str) -> None:
    """Run `obj.validate(key)`; raise every problem it yields (ConfigErrors when several)."""
    validate = getattr(obj, "validate", None)
    if not callable(validate):
        return
    problems: list[ConfigError] = []
    try:
        for problem in validate(key):
            problems.extend(_each(problem))
    except ConfigError as exc:  # a shared helper (e.g. split_host_port) raises: still report it
        problems.extend(_each(exc))
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigErrors(problems)


def _each(error: ConfigError) -> list[ConfigError]:
    return list(error.problems) if isinstance(error, ConfigErrors) else [error]

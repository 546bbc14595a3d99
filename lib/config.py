"""Typed, frozen configuration with validation that names the file, the key and what is allowed.

A section's parameters are a frozen dataclass whose fields carry their constraints in
``field(metadata=...)`` (see :func:`spec`). :func:`build` turns a nested ``dict`` (from YAML,
merged with notebook overrides) into that dataclass, or raises :class:`ConfigError` whose
message reads like::

    params/default/01_reinforce_baselines.yaml: key 'train.lr' must be a number > 0; got -0.1

Every problem is collected before raising, so one error lists all that is wrong, and nothing
is computed before the config is valid.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from .paths import REPO_ROOT

T = TypeVar("T")


class ConfigError(ValueError):
    """A parameter file or override is invalid. The message names source, key and rule."""


def spec(
    default: Any = dataclasses.MISSING,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    doc: str = "",
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with range constraints and a one-line description.

    Choices are expressed in the type (``Literal[...]``), ranges here.
    """
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "doc": doc}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if tp is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        return f"a list of {_describe(args[0])}" if args else "a list"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return str(tp)


def _range_text(meta: Mapping[str, Any]) -> str:
    parts = []
    for key, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if meta.get(key) is not None:
            parts.append(f"{sym} {meta[key]}")
    return " and ".join(parts)


def _convert(value: Any, tp: Any, key: str, errors: list[str], meta: Mapping[str, Any]) -> Any:
    """Convert ``value`` to type ``tp`` or append a message to ``errors`` and return None."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        real = [o for o in options if o is not type(None)]
        trials: list[str] = []
        for option in real:
            trial: list[str] = []
            out = _convert(value, option, key, trial, meta)
            if not trial:
                return out
            trials += trial
        if len(real) == 1 and trials:  # an optional value: keep its own rule (range, finiteness), add "or null"
            errors.append(trials[0].replace("; got", ", or null; got", 1))
            return None
        errors.append(f"key '{key}' must be {_describe(tp)}{_suffix(meta)}; got {value!r}")
        return None
    if origin is Literal:
        if value in get_args(tp) and type(value) in {type(a) for a in get_args(tp)}:
            return value
        errors.append(f"key '{key}' must be {_describe(tp)}; got {value!r}")
        return None
    if origin is tuple:
        (item_tp, *_rest) = get_args(tp)
        if not isinstance(value, (list, tuple)):
            errors.append(f"key '{key}' must be {_describe(tp)}; got {value!r}")
            return None
        items = [_convert(v, item_tp, f"{key}[{i}]", errors, meta) for i, v in enumerate(value)]
        return tuple(items)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            errors.append(f"key '{key}' must be a mapping of {tp.__name__} keys; got {value!r}")
            return None
        return _build(tp, value, key + ".", errors)
    if tp is bool:
        if isinstance(value, bool):
            return value
        errors.append(f"key '{key}' must be true or false; got {value!r}")
        return None
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return _check_range(value, key, errors, meta, "an integer")
        errors.append(f"key '{key}' must be an integer{_suffix(meta)}; got {value!r}")
        return None
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string; take it as the number it spells
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                errors.append(f"key '{key}' must be a finite number{_suffix(meta)}; got {value!r}")
                return None
            return _check_range(float(value), key, errors, meta, "a number")
        errors.append(f"key '{key}' must be a number{_suffix(meta)}; got {value!r}")
        return None
    if tp is str:
        if isinstance(value, str):
            return value
        errors.append(f"key '{key}' must be a string; got {value!r}")
        return None
    raise TypeError(f"unsupported config type {tp!r} for key {key}")  # a programming error


def _suffix(meta: Mapping[str, Any]) -> str:
    rng = _range_text(meta)
    return f" {rng}" if rng else ""


def _check_range(value: float, key: str, errors: list[str], meta: Mapping[str, Any], what: str) -> Any:
    bad = (
        (meta.get("gt") is not None and not value > meta["gt"])
        or (meta.get("ge") is not None and not value >= meta["ge"])
        or (meta.get("lt") is not None and not value < meta["lt"])
        or (meta.get("le") is not None and not value <= meta["le"])
    )
    if bad:
        errors.append(f"key '{key}' must be {what} {_range_text(meta)}; got {value!r}")
        return None
    return value


def _build(cls: type[T], data: Mapping[str, Any], prefix: str, errors: list[str]) -> T:
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for name in data:
        if name not in fields:
            allowed = ", ".join(sorted(fields))
            errors.append(f"unknown key '{prefix}{name}'; allowed keys here: {allowed}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], prefix + name, errors, f.metadata)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if dataclasses.is_dataclass(hints[name]):
                kwargs[name] = _build(hints[name], {}, prefix + name + ".", errors)
            else:
                errors.append(f"missing key '{prefix}{name}' ({_describe(hints[name])})")
    if errors:
        return None  # type: ignore[return-value]
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        for msg in check():
            errors.append(msg if msg.startswith("key") else f"{prefix.rstrip('.') or 'config'}: {msg}")
    return obj


def build(cls: type[T], data: Mapping[str, Any], source: str) -> T:
    """Validate ``data`` into a frozen ``cls``; raise one :class:`ConfigError` listing every problem.

    ``source`` names where the data came from (a file path, "overrides"); it starts each line.
    A dataclass may define ``check(self) -> list[str]`` for rules that span several keys.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of keys to values; got {type(data).__name__}")
    errors: list[str] = []
    obj = _build(cls, data, "", errors)
    if errors:
        raise ConfigError("\n".join(f"{source}: {e}" for e in errors))
    return obj


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into ``base`` (nested mappings merge; everything else replaces).

    Override keys may be dotted (``{"train.lr": 1e-3}``) as a short form for nesting.
    """
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in base.items()}
    for key, value in override.items():
        if isinstance(key, str) and "." in key:
            head, rest = key.split(".", 1)
            value = {rest: value}
            key = head
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def to_dict(obj: Any) -> Any:
    """A frozen config as plain JSON-ready data (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (YAML itself
    keeps the last one silently, so a typo'd second ``lr:`` would win unnoticed)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one parameter file; a syntax error, a key given twice or a non-mapping becomes a
    ConfigError naming it."""
    rel = rel_path(path)
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{rel}: not valid YAML: {exc}") from None
    if data is None:
        raise ConfigError(f"{rel}: the file is empty (or holds only comments); a parameter file sets its section's "
                          f"keys, for example params/default/{Path(path).name}")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{rel}: expected a mapping of keys to values at the top level; got {type(data).__name__}")
    return dict(data)


def rel_path(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (as error messages name files)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)

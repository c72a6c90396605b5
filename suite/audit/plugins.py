"""Implementations declared by installed packages, and `--impl package.module:function` strings.

An installed package declares variants in the entry-point group `neurophys.variants`:

    [project.entry-points."neurophys.variants"]
    "holographic.bind:mybind" = "mypkg.hrr:bind"     # pair and variant name in the entry's name
    fastbind = "mypkg.hrr:bind"                       # or the pair in the function's `neurophys_pair` attribute

`installed()` loads them once ({pair: {name: callable}}) and `suite.registry.Pair.impls()` adds them to the
pair's own implementations, so they ride along in the report, asv and pytest-benchmark as the pair's
variants. An entry that does not load, names no pair, or takes a name the pair already has is listed by
`suite.registry.plugin_errors()` (the report shows it among the failures), never raised.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

GROUP = "neurophys.variants"


class ImplSpecError(ValueError):
    """An --impl string that does not name a usable callable (the message is the one line the user sees)."""


def _arity(pair_name: str) -> int:
    """Positional arguments the pair's callables take: the length of its inputs at the smallest size."""
    from suite import registry

    pair = registry.get_pair(pair_name)
    return len(pair.inputs(min(pair.timing_sizes(True))))


def check_signature(fn: Callable[..., Any], pair_name: str, label: str) -> None:
    """ImplSpecError unless `fn` accepts the pair's positional arguments."""
    n = _arity(pair_name)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins without a signature: the audit will tell
    try:
        sig.bind(*range(n))
    except TypeError as exc:
        raise ImplSpecError(f"--impl {label}: signature {sig} does not take the {n} positional argument(s) of "
                            f"pair {pair_name!r} ({exc})") from None


def load_impl(spec: str, pair_name: str | None = None) -> Callable[..., Any]:
    """'package.module:function' (attribute paths with dots allowed) -> the callable, checked against the
    pair's signature when `pair_name` is given; ImplSpecError naming `spec` otherwise."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ImplSpecError(f"--impl {spec!r}: expected 'package.module:function'")
    mod_name, attr = spec.split(":")
    try:
        obj: Any = importlib.import_module(mod_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's module, reported in one line
        raise ImplSpecError(f"--impl {spec}: module {mod_name!r} does not import ({type(exc).__name__}: {exc})") \
            from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ImplSpecError(f"--impl {spec}: {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ImplSpecError(f"--impl {spec}: {attr!r} is a {type(obj).__name__}, not callable")
    if pair_name is not None:
        check_signature(obj, pair_name, spec)
    return obj


_ERRORS: dict[str, str] = {}


def variants(group: str = GROUP) -> dict[str, dict[str, Callable[..., Any]]]:
    """{pair: {variant name: callable}} from the installed entry points of `group`, loaded now."""
    out: dict[str, dict[str, Callable[..., Any]]] = {}
    _ERRORS.clear()
    for ep in entry_points(group=group):
        try:
            fn = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not take the others down
            _ERRORS[ep.name] = f"{ep.value} does not load: {type(exc).__name__}: {exc}"
            continue
        pair, _, name = ep.name.partition(":")
        if not name:
            pair, name = getattr(fn, "neurophys_pair", None), ep.name
        if not pair:
            _ERRORS[ep.name] = (f"{ep.value}: no pair given (name the entry 'pair:impl' or set the function's "
                                "neurophys_pair attribute)")
            continue
        if not callable(fn):
            _ERRORS[ep.name] = f"{ep.value} is a {type(fn).__name__}, not callable"
            continue
        out.setdefault(pair, {})[name] = fn
    return out


def variant_errors() -> dict[str, str]:
    """Entry points of the last `variants()` call that could not be used, with the reason."""
    return dict(_ERRORS)


@functools.cache
def installed() -> dict[str, dict[str, Callable[..., Any]]]:
    """`variants()` of the group, loaded once per process: what `suite.registry.Pair.impls()` adds to every
    pair, so that the report, asv and pytest-benchmark all see them (`installed.cache_clear()` reloads)."""
    return variants()

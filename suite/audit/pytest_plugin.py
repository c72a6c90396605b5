"""pytest plugin: `pytest --neurophys-impl holographic.bind=mypkg.mod:bind` runs that pair's properties
against the user's function, one test per property, in the user's own test suite.

Registered through the `pytest11` entry point of neurophys-suite (or `-p suite.audit.pytest_plugin`); a run
without `--neurophys-impl` imports nothing but this module (no torch, no hypothesis) and adds no tests. A
failing test shows the verdict ("odd d loses a sample: ...") and the smallest failing case hypothesis found.
A spec that does not parse, import, or match the pair's signature stops the run with one line (UsageError).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("neurophys", "neurophys-suite audit")
    group.addoption("--neurophys-impl", action="append", default=[], metavar="PAIR=package.module:function",
                    help="run PAIR's numerical properties against the function (repeatable)")
    group.addoption("--neurophys-examples", type=int, default=None, metavar="N",
                    help="hypothesis examples per property (default: each property's own)")
    group.addoption("--neurophys-timeout", type=float, default=30.0, metavar="SECONDS",
                    help="time-out per call of the audited function (default 30)")


def _parse(spec: str) -> tuple[str, str]:
    pair, sep, target = spec.partition("=")
    if not sep or not pair or not target:
        raise pytest.UsageError(f"--neurophys-impl {spec!r}: expected PAIR=package.module:function")
    return pair, target


def pytest_configure(config) -> None:
    config._neurophys_impls = []
    specs = config.getoption("--neurophys-impl")
    if not specs:
        return  # the plugin costs nothing in a run that does not use it: torch and hypothesis stay unimported
    from suite import registry
    from suite.audit.plugins import ImplSpecError, load_impl

    impls = []
    for spec in specs:
        pair, target = _parse(spec)
        try:
            registry.get_pair(pair)
            impls.append((pair, target, load_impl(target, pair)))
        except KeyError as exc:
            raise pytest.UsageError(f"--neurophys-impl {spec}: {exc.args[0]}") from None
        except ImplSpecError as exc:
            raise pytest.UsageError(str(exc).replace("--impl", "--neurophys-impl", 1)) from None
    config._neurophys_impls = impls


class PropertyFailed(Exception):
    """A property failed (or the function raised / hung / returned the wrong shape)."""


class NeurophysPropertyItem(pytest.Item):
    """One property of one pair run against one user function."""

    def __init__(self, *, prop, fn, target, **kwargs) -> None:
        super().__init__(**kwargs)
        self.prop, self.fn, self.target = prop, fn, target

    def runtest(self) -> None:
        from suite.audit.properties import check

        res = check(self.prop, self.fn, self.target, timeout=self.config.getoption("--neurophys-timeout"),
                    max_examples=self.config.getoption("--neurophys-examples"))
        if not res.passed:
            raise PropertyFailed(f"[{res.status}] {res.detail}\nsmallest failing case: {res.example}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, PropertyFailed):
            return f"{self.prop.pair} / {self.prop.name} / {self.target}\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"neurophys {self.prop.pair}: {self.prop.name}"


def pytest_collection_modifyitems(session, config, items) -> None:
    if not config._neurophys_impls:
        return
    from suite.audit.properties import properties

    for pair, target, fn in config._neurophys_impls:
        for prop in properties(pair):
            name = f"neurophys[{pair}={target}][{prop.name}]"
            items.append(NeurophysPropertyItem.from_parent(session, name=name, prop=prop, fn=fn, target=target))

"""`neurophys audit`: judge any implementation of a pair (the suite's, a public library's, a user's) by the
pair's properties, its oracle accuracy sweep and its speed against the suite's naive and fixed versions.

    from suite.audit import audit, write
    res = audit("holographic.bind", {"mine": my_bind})
    write([res], "audit-out")

The names below are imported on first use (PEP 562): the pytest plugin and the `neurophys` parser import
`suite.audit.*` modules without pulling in hypothesis or torch. A pair's properties are
`suite.audit.properties.properties(pair)` (`suite.audit.properties` is the module).
"""

_FROM = {
    "suite.audit.properties": ("AUDITED_PAIRS", "Property", "PropertyResult", "check", "check_all"),
    "suite.audit.run": ("AuditOutputError", "AuditResult", "audit", "public_audit_table", "write"),
}
_WHERE = {name: mod for mod, names in _FROM.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'suite.audit' has no attribute {name!r}")

"""`neurophys audit`: judge any implementation of a pair (the suite's, a public library's, a user's) by the
pair's properties, its oracle accuracy sweep and its speed against the suite's naive and fixed versions.

    from suite.audit import audit, write
    res = audit("holographic.bind", {"mine": my_bind})
    write([res], "audit-out")
"""

from suite.audit.properties import AUDITED_PAIRS, Property, PropertyResult, check, check_all, properties
from suite.audit.run import AuditOutputError, AuditResult, audit, public_audit_table, write

__all__ = ["AUDITED_PAIRS", "AuditOutputError", "AuditResult", "Property", "PropertyResult", "audit", "check",
           "check_all", "properties", "public_audit_table", "write"]

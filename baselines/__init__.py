"""The NAIVE implementations, one module per domain, as people commonly write them.

Each function's docstring says which public code or which snippet of the research report it reproduces.
They share input validation with `suite` (`suite.checks`) so that a naive/fixed difference is always the
algorithm, never the argument checking.
"""

"""neurophys-suite: fixed implementations of four families of neuro-physical algorithms, and the harness
(registry, timing, report) that measures them beside their naive twins in `baselines`."""

__version__ = "0.1.0"

from suite.checks import set_validation, validation, validation_enabled  # noqa: E402,F401

"""neurophys-suite: fixed implementations of four families of neuro-physical algorithms, and the harness
(registry, timing, report) that measures them beside their naive twins in `baselines`.

The validation switch (`set_validation`, `validation`, `validation_enabled`, from `suite.checks`) is
imported on first use (PEP 562), so that importing a light submodule such as the pytest plugin
`suite.audit.pytest_plugin` does not import torch.
"""

__version__ = "0.1.0"

_LAZY = ("set_validation", "validation", "validation_enabled")
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        from suite import checks

        return getattr(checks, name)
    raise AttributeError(f"module 'suite' has no attribute {name!r}")

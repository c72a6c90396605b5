"""One module per domain: its Pairs and Studies, registered with `suite.registry.register`.

Every module in this package is imported by `suite.registry.load_all()`.
"""

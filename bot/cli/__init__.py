"""The `momento` command line: ``main`` (run, init, check-config) and one module per command group:
``export``, ``ingest`` (import and link), ``demo`` (demo and chat), ``reanalyse``, ``classify``.

The top of the house: it may import every room; nothing imports it.
"""

"""The ``rta`` command: ``main`` assembles one module per command group."""

"""The stream worker: the faust app around the core (``build_app``)."""

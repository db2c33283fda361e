"""The HTTP API: the aiohttp server (``app``, ``auth``, ``openapi``), what it
knows of the engine (``ports``), and a worker's side of it (``backend``,
``views``)."""

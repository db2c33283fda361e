"""WFM tests use the stream tests' real-broker fixtures."""

from tests.streams.conftest import broker, workers  # noqa: F401

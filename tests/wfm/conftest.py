"""WFM tests use the stream tests' real-broker fixtures."""

from tests.streams.conftest import workers  # noqa: F401

"""What `rta up` and the tests start on this machine: the Tansu broker
(``broker``), Apache Kafka (``kafka``), PostgreSQL (``postgres``), the simulator,
the demo feed and the benchmarks."""

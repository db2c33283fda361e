"""History in PostgreSQL: the schema and its migrations, rows and upserts
(``store``), the sink from the topics (``sink``), recompute (``recompute``,
``runner``)."""

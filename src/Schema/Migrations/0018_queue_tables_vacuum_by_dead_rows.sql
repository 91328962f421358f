-- noetl.outbox and noetl.command are queues in front of a history: every row is updated two or three times within
-- seconds (claimed, published / started, completed) and then stays until the retention removes it. With a fraction of
-- the table as the trigger (0006: 5% for the outbox; PostgreSQL's 20% for commands), the dead versions allowed before
-- autovacuum grow with the history kept: about 55,000 outbox rows and 200,000 command rows with 1M of each in the
-- tables, which the claims then step over in their indexes (docs/benchmarks.md, "Result at 10M events"). A fixed
-- number of dead rows keeps their vacuum as frequent with a large history as with an empty one. Analyze keeps its
-- fraction: the row estimates the claims' plans need change with the mix of statuses, not with dead rows.
ALTER TABLE noetl.outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
ALTER TABLE noetl.command SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
                               autovacuum_analyze_scale_factor = 0.02);

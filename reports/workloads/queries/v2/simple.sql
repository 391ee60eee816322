-- Query class `simple` for the v2 schema (reports/workloads/v2-pipeline.sql): latest trades of
-- a symbol and point lookups, what an API's ticker and trade endpoints ask. One statement is
-- drawn per query; {symbol}, {from_ms}, {to_ms}, {from_s}, {to_s} come from the landed trades
-- (docs/workloads.md, `queries`). An empty result counts as a failure.

-- The latest trades of a symbol.
SELECT exchange_timestamp_ms, price, quantity, side, trade_id
FROM trades WHERE symbol = '{symbol}'
ORDER BY exchange_timestamp_ms DESC LIMIT 100;

-- The last trade at or before a time (an as-of point lookup).
SELECT exchange_timestamp_ms, price, quantity, side
FROM trades WHERE symbol = '{symbol}' AND exchange_timestamp_ms <= {to_ms}
ORDER BY exchange_timestamp_ms DESC LIMIT 1;

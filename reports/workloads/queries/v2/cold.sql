-- Query class `cold` for the v2 schema: the L3 cold-path shape, an analytical query over the
-- raw tier rather than the prepared tables: per-minute trades and notional of a symbol
-- re-derived from every raw message in bronze (a full scan that parses the JSON), as an
-- analyst asks of the cold (Iceberg) tier. Locally it runs on ClickHouse's bronze table; the
-- figure is the latency of this shape, not of an Iceberg reader.
SELECT toStartOfMinute(toDateTime(intDiv(visitParamExtractUInt(raw, 'T'), 1000), 'UTC')) AS minute,
  count() AS trades,
  sum(toFloat64OrZero(visitParamExtractString(raw, 'p')) * toFloat64OrZero(visitParamExtractString(raw, 'q'))) AS notional
FROM bronze
WHERE visitParamExtractString(raw, 's') = '{symbol}' AND visitParamExtractString(raw, 'e') IN ('trade', 'aggTrade')
GROUP BY minute ORDER BY minute;

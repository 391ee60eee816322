-- Query class `complex` for the v2 schema: an aggregation over the last hour (the class's
-- `window`) across all symbols, ending at a landed time: per symbol trades, volume, VWAP,
-- high/low, buy share.
SELECT symbol, count() AS trades, sum(quantity) AS volume,
  sum(price * quantity) / sum(quantity) AS vwap, max(price) AS high, min(price) AS low,
  countIf(side = 'buy') / count() AS buy_share
FROM trades
WHERE exchange_timestamp_ms >= {from_ms} AND exchange_timestamp_ms <= {to_ms}
GROUP BY symbol ORDER BY volume DESC;

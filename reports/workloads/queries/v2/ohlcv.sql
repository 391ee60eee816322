-- Query class `ohlcv` for the v2 schema: candles of a symbol over a range from the gold layer's
-- views (1 minute, or 1 hour built from the minutes).
SELECT minute, open, high, low, close, volume, trades
FROM ohlcv_1m
WHERE symbol = '{symbol}' AND minute >= toStartOfMinute(toDateTime({from_s}, 'UTC')) AND minute <= toDateTime({to_s}, 'UTC')
ORDER BY minute;

SELECT hour, open, high, low, close, volume, trades
FROM ohlcv_1h
WHERE symbol = '{symbol}' AND hour >= toStartOfHour(toDateTime({from_s}, 'UTC')) AND hour <= toDateTime({to_s}, 'UTC')
ORDER BY hour;

-- The local v2 pipeline's ClickHouse side, as the v2 platform builds it in the database:
-- a Kafka engine table reads the topic, materialized views write bronze (raw), silver trades
-- (the MarketDataV2 shape, parsed from Binance trade/aggTrade), gold OHLCV candles (1 minute
-- and 1 hour) and the harness's probe rows.
-- `k2 bench run` substitutes {brokers}, {topic} and {group}; statements end with ';'.
-- Written for ClickHouse 18.16 (Debian's package) and current releases; see docs/bench.md
-- ("The v2 pipeline") for the two settings that matter: kafka_row_delimiter (18.16 glues
-- messages into one stream; ignored by current releases, which parse each message alone)
-- and kafka_max_block_size (a block is written when it is full or the topic goes quiet, so
-- it bounds freshness under continuous traffic).
CREATE TABLE k2_queue (raw String)
ENGINE = Kafka SETTINGS kafka_broker_list = '{brokers}', kafka_topic_list = '{topic}',
  kafka_group_name = '{group}', kafka_format = 'TSV', kafka_row_delimiter = '\n',
  kafka_max_block_size = 1000;

CREATE TABLE bronze (stream String, raw String, ingested DateTime)
ENGINE = MergeTree ORDER BY (stream, ingested);

CREATE MATERIALIZED VIEW bronze_mv TO bronze AS
SELECT visitParamExtractString(raw, 'stream') AS stream, raw, now() AS ingested FROM k2_queue;

CREATE TABLE trades (symbol String, exchange String, exchange_timestamp_ms UInt64,
  price Float64, quantity Float64, side String, trade_id UInt64)
ENGINE = MergeTree ORDER BY (symbol, exchange_timestamp_ms);

CREATE MATERIALIZED VIEW trades_mv TO trades AS
SELECT visitParamExtractString(raw, 's') AS symbol, 'binance' AS exchange,
  visitParamExtractUInt(raw, 'T') AS exchange_timestamp_ms,
  toFloat64OrZero(visitParamExtractString(raw, 'p')) AS price,
  toFloat64OrZero(visitParamExtractString(raw, 'q')) AS quantity,
  if(visitParamExtractBool(raw, 'm'), 'sell', 'buy') AS side,
  if(visitParamExtractString(raw, 'e') = 'trade', visitParamExtractUInt(raw, 't'), visitParamExtractUInt(raw, 'a')) AS trade_id
FROM k2_queue WHERE visitParamExtractString(raw, 'e') IN ('trade', 'aggTrade');

CREATE TABLE k2_probes (id UInt64, intended_ns UInt64) ENGINE = MergeTree ORDER BY id;

CREATE MATERIALIZED VIEW k2_probes_mv TO k2_probes AS
SELECT visitParamExtractUInt(raw, 'k2_probe') AS id, visitParamExtractUInt(raw, 'intended_ns') AS intended_ns
FROM k2_queue WHERE visitParamExtractString(raw, 'stream') = 'k2.probe';

-- Gold: OHLCV candles per symbol, 1 minute and 1 hour, kept as aggregate states
-- (AggregatingMergeTree: rows of the same key merge their states in the background) and read
-- through plain views that finish the aggregation (the -Merge combinators), e.g.
--   SELECT * FROM ohlcv_1m WHERE symbol = 'BTCUSDT' ORDER BY minute
-- open/close are the price of the first/last trade by (exchange time, trade id), so trades in
-- the same millisecond have one order. Times are UTC.
-- Chained views differ by release, so the two gold views come in two forms, each behind a
-- version guard (`-- k2: clickhouse < 19.14` / `>= 19.14`; k2 asks the server SELECT version()
-- and runs the form for it). ClickHouse 18.16 fires a view only for inserts into the table it
-- reads FROM, and an insert made by another view reaches that view's name, not its TO table:
-- there the chain reads FROM the views (trades_mv -> ohlcv_1m_mv -> ohlcv_1h_mv; checked on
-- 18.16, where FROM trades never fires). Current releases fire views on the TO table and never
-- for a view's name (checked on 26.9 with chdb-core: FROM trades_mv stays empty), so the chain
-- reads FROM trades and ohlcv_1m_agg. 19.14 is where the change was reported upstream
-- (ClickHouse issue 8048, "Cascaded Materialized Views broken about 19.14.3.3"); only 18.16
-- and 26.9 were checked here.
CREATE TABLE ohlcv_1m_agg (symbol String, exchange String, minute DateTime('UTC'),
  open AggregateFunction(argMin, Float64, Tuple(UInt64, UInt64)),
  high AggregateFunction(max, Float64), low AggregateFunction(min, Float64),
  close AggregateFunction(argMax, Float64, Tuple(UInt64, UInt64)),
  volume AggregateFunction(sum, Float64), trades AggregateFunction(count))
ENGINE = AggregatingMergeTree ORDER BY (symbol, exchange, minute);

-- k2: clickhouse < 19.14
CREATE MATERIALIZED VIEW ohlcv_1m_mv TO ohlcv_1m_agg AS
SELECT symbol, exchange, toStartOfMinute(toDateTime(intDiv(exchange_timestamp_ms, 1000), 'UTC')) AS minute,
  argMinState(price, (exchange_timestamp_ms, trade_id)) AS open, maxState(price) AS high, minState(price) AS low,
  argMaxState(price, (exchange_timestamp_ms, trade_id)) AS close, sumState(quantity) AS volume, countState() AS trades
FROM trades_mv GROUP BY symbol, exchange, minute;

-- k2: clickhouse >= 19.14
CREATE MATERIALIZED VIEW ohlcv_1m_mv TO ohlcv_1m_agg AS
SELECT symbol, exchange, toStartOfMinute(toDateTime(intDiv(exchange_timestamp_ms, 1000), 'UTC')) AS minute,
  argMinState(price, (exchange_timestamp_ms, trade_id)) AS open, maxState(price) AS high, minState(price) AS low,
  argMaxState(price, (exchange_timestamp_ms, trade_id)) AS close, sumState(quantity) AS volume, countState() AS trades
FROM trades GROUP BY symbol, exchange, minute;

-- 1 hour from the minutes: the minute states merged into hour states.
CREATE TABLE ohlcv_1h_agg (symbol String, exchange String, hour DateTime('UTC'),
  open AggregateFunction(argMin, Float64, Tuple(UInt64, UInt64)),
  high AggregateFunction(max, Float64), low AggregateFunction(min, Float64),
  close AggregateFunction(argMax, Float64, Tuple(UInt64, UInt64)),
  volume AggregateFunction(sum, Float64), trades AggregateFunction(count))
ENGINE = AggregatingMergeTree ORDER BY (symbol, exchange, hour);

-- k2: clickhouse < 19.14
CREATE MATERIALIZED VIEW ohlcv_1h_mv TO ohlcv_1h_agg AS
SELECT symbol, exchange, toStartOfHour(minute) AS hour,
  argMinMergeState(open) AS open, maxMergeState(high) AS high, minMergeState(low) AS low,
  argMaxMergeState(close) AS close, sumMergeState(volume) AS volume, countMergeState(trades) AS trades
FROM ohlcv_1m_mv GROUP BY symbol, exchange, hour;

-- k2: clickhouse >= 19.14
CREATE MATERIALIZED VIEW ohlcv_1h_mv TO ohlcv_1h_agg AS
SELECT symbol, exchange, toStartOfHour(minute) AS hour,
  argMinMergeState(open) AS open, maxMergeState(high) AS high, minMergeState(low) AS low,
  argMaxMergeState(close) AS close, sumMergeState(volume) AS volume, countMergeState(trades) AS trades
FROM ohlcv_1m_agg GROUP BY symbol, exchange, hour;

CREATE VIEW ohlcv_1m AS
SELECT symbol, exchange, minute, argMinMerge(open) AS open, maxMerge(high) AS high, minMerge(low) AS low,
  argMaxMerge(close) AS close, sumMerge(volume) AS volume, countMerge(trades) AS trades
FROM ohlcv_1m_agg GROUP BY symbol, exchange, minute;

CREATE VIEW ohlcv_1h AS
SELECT symbol, exchange, hour, argMinMerge(open) AS open, maxMerge(high) AS high, minMerge(low) AS low,
  argMaxMerge(close) AS close, sumMerge(volume) AS volume, countMerge(trades) AS trades
FROM ohlcv_1h_agg GROUP BY symbol, exchange, hour;

-- The local v2 pipeline's ClickHouse side, as the v2 platform builds it in the database:
-- a Kafka engine table reads the topic, materialized views write bronze (raw), silver trades
-- (the MarketDataV2 shape, parsed from Binance trade/aggTrade) and the harness's probe rows.
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

#!/usr/bin/env python3
"""Conformance of k2's SQL and RowBinary with a current ClickHouse release (chdb-core, in-process).

ClickHouse 18.16 is the only real server here; chdb-core embeds a current engine (26.x) without
a server. This script puts it behind a small ClickHouse-compatible HTTP interface on 127.0.0.1
(POST a statement, `database=`, `query=` with a body, the default TabSeparated output, errors as
HTTP 500 with ClickHouse's message) so k2 talks to it exactly as it talks to a server:

1. `k2 bench schema reports/workloads/v2-pipeline.sql` runs the pipeline schema, picking the
   statements for the server's version (`SELECT version()`); the Kafka engine table becomes a
   Null table of the same structure, so the materialized views still run on every insert.
2. The sample capture's received messages go into that table as the Kafka engine hands them
   over (`kafka_format = 'TSV'`, one message a row); bronze, silver trades and the gold 1-minute
   and 1-hour candles are checked against what this script computes from the same messages, the
   probe view against a probe message.
3. Every statement of every query set (reports/workloads/queries/v2/*.sql), with parameters
   drawn from the landed trades, runs and returns rows.
4. `k2 replay … --sink clickhouse://…?mode=trades|raw --create-tables` runs the sink's DDL and
   sends its RowBinary inserts; each insert body is written to a file, read back with
   `file(PATH, RowBinary, <the table's structure>)` and compared column by column with the
   rows expected from the capture.

Prints 'conformance: N passed, N failed' and exits 1 on any failure. Usage:
  scripts/conformance-current.py [--k2 PATH]   (default .build/debug/k2; needs chdb-core)
"""
import argparse
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURE = os.path.join(ROOT, "captures", "binance-sample.k2cap")
SCHEMA = os.path.join(ROOT, "reports", "workloads", "v2-pipeline.sql")
QUERIES = os.path.join(ROOT, "reports", "workloads", "queries", "v2")


class Engine:
    """A chdb session used by one request at a time; remembers the RowBinary inserts it took."""

    def __init__(self, path, spool):
        from chdb import session  # imported here so that a missing chdb is one clear line

        self.session = session.Session(path)
        self.lock = threading.Lock()
        self.spool = spool
        self.inserts = []  # (table, columns, structure, file)

    def query(self, sql, database=None, fmt="TabSeparated"):
        with self.lock:
            self.session.query("USE " + (database or "default"))
            result = self.session.query(sql, fmt)
            return result.bytes() if hasattr(result, "bytes") else str(result).encode()

    def structure(self, table, database, columns):
        db, _, name = table.rpartition(".")
        db = db or database or "default"
        text = self.query(
            f"SELECT name, type FROM system.columns WHERE database = '{db}' AND table = '{name}' FORMAT TSV"
        ).decode()
        types = dict(line.split("\t", 1) for line in text.splitlines() if line)
        missing = [c for c in columns if c not in types]
        if missing:
            raise RuntimeError(f"Code: 16. DB::Exception: No such column {missing[0]} in table {db}.{name}")
        return ", ".join(f"{c} {types[c]}" for c in columns)

    def insert_rowbinary(self, table, columns, body, database):
        structure = self.structure(table, database, columns)
        path = os.path.join(self.spool, f"insert-{len(self.inserts) + 1:04d}.bin")
        with open(path, "wb") as f:
            f.write(body)
        self.query(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM file('{path}', 'RowBinary', '{structure}')",
            database,
        )
        self.inserts.append((table, columns, structure, path))


KAFKA_ENGINE = re.compile(r"ENGINE\s*=\s*Kafka\b.*\Z", re.S | re.I)
INSERT_ROWBINARY = re.compile(r"^\s*INSERT INTO\s+(\S+)\s*\(([^)]*)\)\s*FORMAT\s+RowBinary\s*$", re.I)


def make_handler(engine):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "text/tab-separated-values; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.handle_query(b"")

        def do_POST(self):
            self.handle_query(self.read_body())

        def handle_query(self, body):
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            database = params.get("database")
            try:
                if "query" in params:
                    insert = INSERT_ROWBINARY.match(params["query"])
                    if not insert:
                        raise RuntimeError("Code: 62. this stand-in takes only INSERT … FORMAT RowBinary with a body")
                    columns = [c.strip() for c in insert.group(2).split(",")]
                    engine.insert_rowbinary(insert.group(1), columns, body, database)
                    self.answer(200, b"")
                    return
                sql = KAFKA_ENGINE.sub("ENGINE = Null", body.decode())
                self.answer(200, engine.query(sql, database))
            except Exception as error:  # ClickHouse answers errors as HTTP 500 with its message
                self.answer(500, (str(error).strip() + "\n").encode())

    return Handler


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed += 1
            print(f"  FAIL  {name}: {detail}")


def run(command, **kw):
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kw)


def expected_trade(message):
    """The silver row the schema's trades_mv derives from a Binance combined-stream message."""
    data = json.loads(message).get("data", {})
    if data.get("e") not in ("trade", "aggTrade"):
        return None
    trade_id = data["t"] if data["e"] == "trade" else data["a"]
    return (data["s"], "binance", int(data["T"]), float(data["p"]), float(data["q"]),
            "sell" if data.get("m") else "buy", int(trade_id))


def candles(trades, seconds):
    """OHLCV per (symbol, exchange, bucket): open/close by (time, trade id), as the gold views."""
    out = {}
    for symbol, exchange, ms, price, qty, _side, trade_id in sorted(trades, key=lambda t: (t[2], t[6])):
        key = (symbol, exchange, ms // 1000 // seconds * seconds)
        c = out.get(key)
        if c is None:
            out[key] = [price, price, price, price, qty, 1]
        else:
            c[1] = max(c[1], price)
            c[2] = min(c[2], price)
            c[3] = price
            c[4] += qty
            c[5] += 1
    return out


def rows(engine, sql, database):
    return [json.loads(line) for line in engine.query(sql + " FORMAT JSONEachRow", database).decode().splitlines() if line]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k2", default=os.path.join(ROOT, ".build", "debug", "k2"))
    args = parser.parse_args()
    started = time.monotonic()
    try:
        import chdb
    except ImportError:
        print("conformance: chdb is not installed; run scripts/install-deps.sh (it installs chdb-core with pip)", file=sys.stderr)
        return 2
    if not os.access(args.k2, os.X_OK):
        print(f"conformance: no k2 binary at {args.k2}; build it (swift build) or give --k2 PATH", file=sys.stderr)
        return 2

    work = tempfile.mkdtemp(prefix="k2-conformance-")
    spool = os.path.join(work, "inserts")
    os.makedirs(spool)
    engine = Engine(os.path.join(work, "chdb"), spool)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(engine))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    version = engine.query("SELECT version()").decode().strip()
    print(f"conformance: ClickHouse {version} (chdb {chdb.__version__}) behind {url}")
    checks = Checks()

    # The capture's received messages, as `k2 capture cat` prints them.
    cat = run([args.k2, "capture", "cat", CAPTURE, "--kind", "recv"])
    records = [json.loads(line) for line in cat.stdout.splitlines() if line]
    checks.check("k2 capture cat reads the sample capture", cat.returncode == 0 and records, cat.stderr.strip())
    messages = [r["data"] for r in records]
    trades = [t for t in (expected_trade(m) for m in messages) if t]
    captured_trades = list(trades)

    # 1. The pipeline schema, the statements for this version.
    db = "k2_conformance"
    out = run([args.k2, "bench", "schema", SCHEMA, "--clickhouse", url, "--database", db,
               "--set", "brokers=127.0.0.1:9", "--set", "topic=k2", "--set", "group=k2"])
    checks.check("k2 bench schema runs v2-pipeline.sql on the current release", out.returncode == 0,
                 (out.stderr or out.stdout).strip())
    checks.check("the statements guarded for < 19.14 are skipped", "2 guarded for other versions" in out.stdout, out.stdout.strip())

    # 2. Messages into the (Null) Kafka table, as the engine hands them over (TSV, one a row).
    probe = '{"stream":"k2.probe","data":{"k2_probe":7,"intended_ns":1700000000000000000}}'
    tsv = os.path.join(work, "messages.tsv")
    with open(tsv, "w") as f:
        for m in messages + [probe]:
            f.write(m + "\n")
    engine.query(f"INSERT INTO k2_queue SELECT * FROM file('{tsv}', 'TSV', 'raw String')", db)
    # The capture spans 40 s: for candles over hours, its trades again in a second insert, shifted
    # by 30 minutes at a time over ~2.5 hours (new trade ids), into the same candle tables.
    shifted = []
    for copy in range(1, 6):
        for m in messages:
            message = json.loads(m)
            data = message.get("data", {})
            if data.get("e") != "trade":
                continue
            data["T"] += copy * 30 * 60 * 1000
            data["t"] += copy * 10_000_000
            shifted.append(json.dumps(message, separators=(",", ":")))
    with open(tsv, "w") as f:
        f.writelines(m + "\n" for m in shifted)
    engine.query(f"INSERT INTO k2_queue SELECT * FROM file('{tsv}', 'TSV', 'raw String')", db)
    bronze_expected = messages + [probe] + shifted
    bronze = rows(engine, "SELECT stream, raw FROM bronze", db)
    checks.check(f"bronze holds every message once ({len(bronze_expected)})", sorted(r["raw"] for r in bronze) == sorted(bronze_expected),
                 f"{len(bronze)} rows for {len(bronze_expected)} messages")
    streams = collections.Counter(r["stream"] for r in bronze)
    checks.check("bronze.stream is the combined stream's name", streams["k2.probe"] == 1 and streams["btcusdt@trade"] > 0, dict(streams))
    trades = captured_trades + [expected_trade(m) for m in shifted]
    silver = rows(engine, "SELECT symbol, exchange, exchange_timestamp_ms, price, quantity, side, trade_id FROM trades", db)
    got = sorted((r["symbol"], r["exchange"], int(r["exchange_timestamp_ms"]), r["price"], r["quantity"], r["side"], int(r["trade_id"]))
                 for r in silver)
    checks.check(f"silver trades equal the {len(trades)} trades parsed from the messages", got == sorted(trades),
                 f"{len(got)} rows; first difference {next(((a, b) for a, b in zip(got, sorted(trades)) if a != b), None)}")
    probes = rows(engine, "SELECT id, intended_ns FROM k2_probes", db)
    checks.check("the probe view takes the probe message", [(int(p["id"]), int(p["intended_ns"])) for p in probes] == [(7, 1700000000000000000)], probes)
    for view, seconds, column in (("ohlcv_1m", 60, "minute"), ("ohlcv_1h", 3600, "hour")):
        want = candles(trades, seconds)
        have = {}
        for r in rows(engine, f"SELECT symbol, exchange, toUnixTimestamp({column}) AS t, open, high, low, close, volume, trades FROM {view}", db):
            have[(r["symbol"], r["exchange"], int(r["t"]))] = [r["open"], r["high"], r["low"], r["close"], r["volume"], int(r["trades"])]
        same = want.keys() == have.keys() and all(
            have[k][:4] == want[k][:4] and have[k][5] == want[k][5] and abs(have[k][4] - want[k][4]) <= 1e-9 * max(1.0, abs(want[k][4]))
            for k in want)
        detail = f"{len(have)} candles, {len(want)} expected; " + str(next(((k, have.get(k), v) for k, v in want.items() if have.get(k) != v), None))
        checks.check(f"gold {view}: {len(want)} candles equal those computed from the trades", same and want, detail)

    # 3. The query sets, parameters drawn from the landed trades (the whole range of the busiest symbol).
    busiest = collections.Counter(t[0] for t in trades).most_common(1)[0][0]
    times = [t[2] for t in trades if t[0] == busiest]
    values = {"symbol": busiest, "from_ms": str(min(times)), "to_ms": str(max(times)),
              "from_s": str(min(times) // 1000), "to_s": str((max(times) + 999) // 1000)}
    server_version = tuple(int(part) for part in version.split("."))
    for path in sorted(glob.glob(os.path.join(QUERIES, "*.sql"))):
        # Comments dropped (they may hold ';'), guard lines kept.
        lines = [line if line.strip().startswith("-- k2:") else line.split("--", 1)[0] for line in open(path).read().splitlines()]
        for index, chunk in enumerate("\n".join(lines).split(";")):
            # A `-- k2: clickhouse < V` / `>= V` guard line: the statement is for those versions only.
            guard = re.search(r"^\s*-- k2: clickhouse (<|>=) ([\d.]+)\s*$", chunk, re.M)
            if guard:
                bound = tuple(int(part) for part in guard.group(2).split("."))
                width = max(len(bound), len(server_version))
                pad = lambda v: v + (0,) * (width - len(v))
                if (pad(server_version) < pad(bound)) != (guard.group(1) == "<"):
                    continue
            statement = "\n".join(line.split("--", 1)[0] for line in chunk.splitlines()).strip()
            if not statement:
                continue
            for key, value in values.items():
                statement = statement.replace("{" + key + "}", value)
            name = f"query {os.path.basename(path)} #{index + 1} returns rows"
            try:
                answer = engine.query(statement, db).decode()
                checks.check(name, answer.strip() != "", "empty result")
            except Exception as error:
                checks.check(name, False, str(error).splitlines()[0])

    # 4. The sink: --create-tables DDL and RowBinary inserts, read back with the table's structure.
    sink_db = "k2_sink"
    replay = run([args.k2, "replay", CAPTURE, "--speed", "max", "--create-tables",
                  "--sink", f"clickhouse://127.0.0.1:{server.server_address[1]}/{sink_db}?mode=trades&batch=4000",
                  "--sink", f"clickhouse://127.0.0.1:{server.server_address[1]}/{sink_db}?mode=raw&batch=4000"])
    checks.check("k2 replay into both sink modes with --create-tables exits 0", replay.returncode == 0,
                 (replay.stderr or replay.stdout).strip()[-400:])
    by_table = collections.defaultdict(list)
    for table, _columns, structure, path in engine.inserts:
        by_table[table].append((structure, path))
    want_raw = sorted(("binance", r["conn"], json.loads(r["data"]).get("stream", ""), r["ts_ns"], r["data"]) for r in records)
    want_trades = sorted(
        (f"binance:{t[2]}:{t[0]}:{t[6]}", "binance", t[0], t[2], t[3], t[4], t[5], str(t[6]), r["ts_ns"])
        for r in records for t in [expected_trade(r["data"])] if t)
    for table, want, width in ((f"{sink_db}.trades", want_trades, 9), (f"{sink_db}.raw_messages", want_raw, 5)):
        got, batch_ids = [], []
        for structure, path in by_table.get(table, []):
            read = rows(engine, f"SELECT * FROM file('{path}', 'RowBinary', '{structure}')", None)
            ids = {int(r["k2_batch"]) for r in read}
            batch_ids.append(ids)
            names = [c.split(" ", 1)[0] for c in structure.split(", ")][:width]
            for r in read:
                got.append(tuple(int(r[n]) if n in ("receive_ns", "exchange_timestamp_ms", "connection") else r[n] for n in names))
        got.sort()
        checks.check(f"{table}: {len(want)} rows read back from {len(batch_ids)} RowBinary inserts equal the capture's, every column",
                     got == want, f"{len(got)} rows; first difference {next(((a, b) for a, b in zip(got, want) if a != b), None)}")
        checks.check(f"{table}: each insert's rows carry one k2_batch id, distinct per insert",
                     batch_ids and all(len(i) == 1 and 0 not in i for i in batch_ids) and len(set().union(*batch_ids)) == len(batch_ids),
                     batch_ids[:3])
        if table.endswith("raw_messages"):
            ids = [r["k2_id"] for structure, path in by_table.get(table, [])
                   for r in rows(engine, f"SELECT * FROM file('{path}', 'RowBinary', '{structure}')", None)]
            checks.check(f"{table}: every row carries its own ledger id (k2_id RUNID-SEQ, one run)",
                         len(ids) == len(want) and len(set(ids)) == len(ids)
                         and all(re.fullmatch(r"[0-9a-f]{16}-[0-9]+", i) for i in ids) and len({i[:16] for i in ids}) == 1,
                         ids[:3])
        landed = int(engine.query(f"SELECT count() FROM {table}").decode().strip() or 0)
        checks.check(f"{table} holds the {len(want)} rows inserted", landed == len(want), f"{landed} rows")

    server.shutdown()
    engine.session.close()
    if checks.failed:
        print(f"conformance: the insert bodies and the chdb data are kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"conformance: {time.monotonic() - started:.1f} s")
    print(f"conformance: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Minimal Python recorder, the v1 feed handlers' stack: websockets (asyncio) + zstandard.

Connects to URL, receives frames for DURATION seconds, writes each as
`<receive time ns> <payload>\n` into a zstd-compressed file (level 3), prints
`frames=N seconds=S` on stdout. The peer of `k2 record` in scripts/bench-record.sh.
"""
import asyncio
import sys
import time

import websockets
import zstandard


async def record(url: str, out: str, duration: float) -> None:
    cctx = zstandard.ZstdCompressor(level=3)
    count = 0
    with open(out, "wb") as f, cctx.stream_writer(f) as w:
        async with websockets.connect(url, max_size=None, compression=None, ping_interval=None) as ws:
            t0 = time.monotonic()
            end = t0 + duration
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                try:
                    msg = await asyncio.wait_for(ws.recv(), timeout=end - now)
                except asyncio.TimeoutError:
                    break
                ts = time.time_ns()
                data = msg.encode() if isinstance(msg, str) else msg
                w.write(b"%d " % ts + data + b"\n")
                count += 1
            elapsed = time.monotonic() - t0
    print(f"frames={count} seconds={elapsed:.3f}")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1], sys.argv[2], float(sys.argv[3])))

#!/usr/bin/env python3
"""Python recorder on picows (PyPI; Cython, the fastest Python WebSocket client) + zstandard.

Connects to URL, receives frames for DURATION seconds, writes each as
`<receive time ns> <payload>\n` into a zstd-compressed file (level 3), prints
`frames=N seconds=S` on stdout: the same output as bench_record_python.py, so
scripts/bench-record.sh compares k2 record with both Python peers doing the same work.
"""
import asyncio
import sys
import time

import zstandard
from picows import WSListener, WSMsgType, ws_connect


class Recorder(WSListener):
    def __init__(self, writer) -> None:
        self.writer = writer
        self.count = 0

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            # One write per frame, like the websockets peer (the stream writer buffers).
            self.writer.write(b"%d " % time.time_ns() + frame.get_payload_as_bytes() + b"\n")
            self.count += 1
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()


async def record(url: str, out: str, duration: float) -> None:
    cctx = zstandard.ZstdCompressor(level=3)
    with open(out, "wb") as f, cctx.stream_writer(f) as w:
        transport, listener = await ws_connect(lambda: Recorder(w), url, max_frame_size=64 << 20)
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(transport.wait_disconnected(), timeout=duration)
        except asyncio.TimeoutError:
            transport.disconnect()
        elapsed = time.monotonic() - t0
    print(f"frames={listener.count} seconds={elapsed:.3f}")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1], sys.argv[2], float(sys.argv[3])))

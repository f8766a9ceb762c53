#!/usr/bin/env python3
"""SSE fan-out client for bench/sse-fanout.sh.

Opens CONNS connections to GET /api/v1/events, spread over the workstation tokens in
TOKENS_FILE (tsgate limits API calls per workstation) and over the nodes in PORTS
(comma-separated; connection i goes to PORTS[i % len(PORTS)]), waits for the initial event on
each, prints READY and waits for a line on stdin; then makes one change (POST
.../session/request with TRIGGER_TOKEN, to the first port) and measures, for every
connection, when the next `session` event arrives. Prints the distribution of arrival times
after the trigger, in all and per port when there are several. Standard library only.

PROBE=1: one stream per port instead (token: the first of TOKENS_FILE), no trigger; prints
READY, then the wall-clock time (time.time()) at which the next `session` event arrives on
each port. Run as a second process beside the main client, whose own reading of thousands of
streams would otherwise be part of the first arrival on every node; the main client prints
the wall-clock time of its trigger for the comparison.
"""
import asyncio
import os
import sys
import time

HOST = os.environ.get("HOST", "127.0.0.1")
PORTS = [int(p) for p in os.environ["PORTS"].split(",")]
CONNS = int(os.environ.get("CONNS", "10000"))
USER = os.environ["USER_ID"]
TOKENS = [t.strip() for t in open(os.environ["TOKENS_FILE"]) if t.strip()]
TRIGGER = os.environ["TRIGGER_TOKEN"]


async def connect(i, port=None, token=None):
    """Opens stream `i` (on PORTS[i % n] with TOKENS[i % n] unless given) and reads up to its
    initial `session` event."""
    port = port or PORTS[i % len(PORTS)]
    token = token or TOKENS[i % len(TOKENS)]
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(
        f"GET /api/v1/events HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"connection {i} (port {port}): {status!r}")
    await next_event(reader, i)
    return reader, writer


async def next_event(reader, i):
    while True:
        line = await reader.readline()
        if not line:
            raise RuntimeError(f"connection {i} closed")
        if line.startswith(b"event: session"):
            return


async def trigger():
    reader, writer = await asyncio.open_connection(HOST, PORTS[0])
    body = b'{"replace": true}'
    writer.write(
        f"POST /api/v1/users/{USER}/session/request HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Authorization: Bearer {TRIGGER}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
    )
    await writer.drain()
    status = await reader.readline()
    writer.close()
    return status.decode().strip()


async def probe():
    streams = []
    for i, port in enumerate(PORTS):
        reader, writer = await connect(i, port, TOKENS[0])
        streams.append((port, reader, writer))
    print("READY", flush=True)

    async def arrival(port, reader, i):
        await next_event(reader, i)
        return port, time.time()

    for port, at in await asyncio.gather(*(arrival(p, r, i) for i, (p, r, _) in enumerate(streams))):
        print(f"probe port {port}: event at {at:.6f}", flush=True)
    print("DONE", flush=True)


async def main():
    connected = 0
    started = asyncio.Event()
    gate = asyncio.Semaphore(256)

    async def one(i):
        nonlocal connected
        async with gate:
            reader, writer = await connect(i)
        connected += 1
        await started.wait()
        await next_event(reader, i)
        return time.perf_counter(), PORTS[i % len(PORTS)], writer

    t_connect = time.perf_counter()
    tasks = [asyncio.ensure_future(one(i)) for i in range(CONNS)]
    while connected < CONNS:
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise failed[0].exception()
        await asyncio.sleep(0.05)
    print(f"connected {CONNS} streams in {time.perf_counter() - t_connect:.2f}s", flush=True)
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    started.set()
    await asyncio.sleep(0.2)  # every reader is waiting on its socket again
    t0 = time.perf_counter()
    print(f"trigger sent at {time.time():.6f}", flush=True)
    status = await trigger()
    results = await asyncio.gather(*tasks)
    print(f"trigger answered: {status}")
    groups = [("all", [t for t, _, _ in results])]
    if len(PORTS) > 1:
        groups += [(f"port {p}", [t for t, q, _ in results if q == p]) for p in PORTS]
    for name, times in groups:
        delays = sorted((t - t0) * 1000 for t in times)
        pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
        print(
            f"event received ({name}) on {len(delays)}/{CONNS} streams; after the trigger: "
            f"first {delays[0]:.1f} ms, p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, "
            f"last {delays[-1]:.1f} ms",
            flush=True,
        )
    print("DONE", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


asyncio.run(probe() if os.environ.get("PROBE") else main())

#!/usr/bin/env python3
"""Writes at a steady rate against a running ownergraph, and checks each one is read back.

Used by benches/http.sh while oha sends screenings. Each step is two writes and one read:

  1. POST /v1/entities      a new company;
  2. POST /v1/ownerships    a listed entity takes 100% of it;
  3. POST /v1/screenings    the new company, which must now be blocked.

A step that finds the company clear means a write was acknowledged but not yet visible to the
next read, and is counted as stale. Steps start on a fixed schedule (rate / 2 a second, as each
has two writes), shared round-robin by a few threads with a connection each; a late step
starts at once, and the schedule is not reset, so a slow patch is made up and the rate over
the run is the rate asked for.

Usage: writer.py BASE_URL OWNER_ID RATE SECONDS OUT_PREFIX
Prints one summary line; writes the latencies (ms) to OUT_PREFIX.writes and .reads.
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


THREADS = 4


def main():
    base, owner, rate, seconds, out = sys.argv[1:6]
    rate, seconds = float(rate), float(seconds)
    url = urllib.parse.urlsplit(base)
    run = time.strftime("%H%M%S")
    writes, reads, failures = [], [], []
    stale = [0]
    interval = 2 / rate
    start = time.monotonic()
    lock = threading.Lock()

    headers = {
        "content-type": "application/json",
        "authorization": "Bearer " + os.environ["OWNERGRAPH_KEY"],
    }

    def worker(first):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)

        def post(path, body):
            t = time.perf_counter()
            conn.request("POST", path, json.dumps(body), headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, json.loads(data) if data else None, 1000 * (time.perf_counter() - t)

        def write(what, path, body):
            """One acknowledged write, timed; false if it failed."""
            status, _, ms = post(path, body)
            with lock:
                writes.append(ms)
                if status != 201:
                    failures.append(f"{what} {status}")
            return status == 201

        step = first
        while True:
            due = start + step * interval
            if due - start >= seconds:
                break
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            company = f"bench-mix-{run}-{step}"
            step += THREADS
            steps = (
                ("entity", "/v1/entities",
                 {"id": company, "kind": "company",
                  "name": f"Benchmark Mixed {company} Limited", "jurisdiction": "GB"}),
                ("ownership", "/v1/ownerships",
                 {"owner": owner, "owned": company, "share": 100, "source": "benchmark"}),
            )
            if not all(write(what, path, body) for what, path, body in steps):
                continue
            status, body, ms = post("/v1/screenings", {"entity": company, "as_of": "2025-07-01"})
            with lock:
                reads.append(ms)
                if status != 200:
                    failures.append(f"screening {status}")
                elif body["decision"] != "block":
                    stale[0] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    stale = stale[0]

    for name, values in (("writes", writes), ("reads", reads)):
        with open(f"{out}.{name}", "w") as f:
            f.write("".join(f"{v:.3f}\n" for v in values))

    def pct(values, p):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else 0.0

    print(
        f"{len(writes)} writes in {elapsed:.1f} s ({len(writes) / elapsed:.0f}/s): "
        f"p50 {pct(writes, 50):.2f} ms, p99 {pct(writes, 99):.2f} ms, max {max(writes, default=0):.2f} ms; "
        f"{len(reads)} read-backs: p99 {pct(reads, 99):.2f} ms, {stale} stale; "
        f"{len(failures)} failed{': ' + ', '.join(sorted(set(failures))) if failures else ''}"
    )
    sys.exit(1 if stale or failures else 0)


if __name__ == "__main__":
    main()

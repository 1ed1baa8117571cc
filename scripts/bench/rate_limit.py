#!/usr/bin/env python3
"""How much of Dinero's per-organization rate one shop's backlog uses, with no 429.

dinero-sim enforces Dinero's limit (100 requests per organization in each 60-second window,
as `--rate-limit 100 --rate-limit-window-ms 60000`, its defaults); the service runs with its
default limiter (`dinero.requests_per_minute`, `dinero.burst`). One shop gets ORDERS orders of
one known customer at once (3 calls each: invoice, book, payment), a backlog of over three
minutes. Printed: the calls in each full minute of the drain, the most in any sliding 60
seconds, the 429s, and the sustained rate as a share of Dinero's 100 a minute (the reference
figure of the same run). Usage: scripts/bench/rate_limit.py [ORDERS]
"""
import sys, time
from common import ADMIN, Stack, build, call, order, send

ORDERS = int(sys.argv[1]) if len(sys.argv) > 1 else 110
ORG = 500


def main():
    build()
    stack = Stack([ORG])
    try:
        stack.put_tenant("shop", ORG)
        setup = len(stack.sim_requests(ORG))
        started = time.time()
        for n in range(ORDERS):
            send(stack.port, "shop", order("shop", n, customer=0))
        while stack.done("shop") < ORDERS:
            time.sleep(1)
        took = time.time() - started
        calls = [e for e in stack.sim_requests(ORG)[setup:] if "organizationId" in (e.get("route") or "")]
        throttled = sum(1 for e in calls if e["status"] == 429)
        times = sorted(e["at_ms"] / 1000 for e in calls if e["status"] != 429)
        first, last = times[0], times[-1]
        per_minute = [sum(1 for t in times if first + 60 * k <= t < first + 60 * (k + 1))
                      for k in range(int((last - first) // 60))]
        j, busiest = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - 60:
                j += 1
            busiest = max(busiest, i - j + 1)
        sustained = (len(times) - 1) / (last - first) * 60
        print(f"{ORDERS} orders, {len(times)} Dinero calls over {last - first:.0f} s (all booked and paid after {took:.0f} s)")
        print(f"calls in each full minute: {per_minute}; most in any 60 s: {busiest}; 429s: {throttled}")
        print(f"sustained {sustained:.1f} calls a minute = {sustained:.1f}% of Dinero's 100 a minute (the reference)")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()

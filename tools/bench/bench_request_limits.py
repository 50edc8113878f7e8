"""The CPU the checks of services/contract/limits.py cost: ``python -m tools.bench.bench_request_limits``.

Times, with the process's CPU clock (not the wall clock, which a shared machine's load inflates), the head checks
every API process and the local edge run on each request (common/request_limits.py ``head_refusal``, on the dozen
headers of an order placed through the edge, with its 1 KB token) and the measure of an order's JSON body
(``json_refusal``), beside h11 parsing the same head and the standard library parsing the same body, for scale; and
the measure of the worst 10 MB bodies (a string of escaped quotes, whitespace, a 10-million-digit number). Prints the
figures and writes them to cdk.out/bench/request_limits.json. Nothing asserts a time.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import h11
from common.request_limits import head_refusal, json_refusal
from contract.limits import BODY_BYTES, service_header_bytes

OUT = Path(__file__).resolve().parents[2] / "cdk.out" / "bench" / "request_limits.json"
ROUNDS = 5

HEAD = (b"POST /orders HTTP/1.1\r\nHost: orders.internal:8080\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/126\r\nAccept: application/json\r\n"
        b"Accept-Language: fr-FR,fr;q=0.9\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer eyJ" + b"a" * 1_000 + b"\r\nIdempotency-Key: 6f1c1b2e-8d2a-4c1e-9f3b-1a2b3c4d5e6f\r\n"
        b"X-Correlation-Id: 0d7f3c2a-1b2c-4d5e-8f90-a1b2c3d4e5f6\r\nX-Forwarded-For: 10.0.0.1\r\n"
        b"X-Forwarded-Proto: https\r\nX-Amzn-Trace-Id: Root=1-65f0a1b2-0123456789abcdef01234567\r\n"
        b"Content-Length: 139\r\n\r\n")
ORDER = json.dumps({"lines": [{"product_id": "p-1234", "quantity": 1}, {"product_id": "p-5678", "quantity": 2}],
                    "shipping_address": "1 Main St, Springfield"}).encode()
WORST = {
    "10 MB of escaped quotes in a string": b'["' + b'\\"' * (BODY_BYTES.value // 2 - 4) + b'"]',
    "10 MB of whitespace": b" " * (BODY_BYTES.value - 1) + b"1",
    "a number of 10 million digits": b"[" + b"9" * (BODY_BYTES.value - 2) + b"]",
}


def cpu_us(call: Callable[[], object], number: int) -> float:
    """Median over ROUNDS of the CPU microseconds per call."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(number):
            call()
        rounds.append((time.process_time() - started) / number * 1e6)
    return statistics.median(rounds)


def parse_head() -> h11.Request:
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(HEAD)
    event = connection.next_event()
    assert isinstance(event, h11.Request)
    return event


def main() -> None:
    request = parse_head()
    headers = request.headers.raw_items()
    limit = service_header_bytes()
    figures = {
        "head_refusal, an order's 12 headers (us)": cpu_us(
            lambda: head_refusal(request.method, request.target, headers, header_limit=limit), 50_000),
        "h11 parsing the same head, for scale (us)": cpu_us(parse_head, 5_000),
        f"json_refusal, an order's body of {len(ORDER)} bytes (us)": cpu_us(lambda: json_refusal(ORDER), 50_000),
        "json.loads of the same body, for scale (us)": cpu_us(lambda: json.loads(ORDER), 50_000),
        **{f"json_refusal, {name} (ms)": cpu_us(lambda body=body: json_refusal(body), 1) / 1000  # type: ignore[misc]
           for name, body in WORST.items()},
    }
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:8.2f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"cpu": figures, "rounds": ROUNDS, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                        time.gmtime())}, indent=2))


if __name__ == "__main__":
    main()

"""Load check: N clients upload an image at once to `deepfake-detect serve` (a real process).

    .venv/bin/python scripts/concurrent_uploads.py [--clients 100] [--image PATH]

Each client posts to POST /v1/detect and, on 429, waits the server's Retry-After and tries again,
so the figures are what a well-behaved client sees end to end. Prints the median, p95 and max
latency, how many 429s were answered, and checks that every upload ended `done` and that the
server is still healthy. A measurement, not a test: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from deepfake_detect.settings import get_settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_upload(url: str, image: bytes) -> tuple[float, int, str]:
    """(seconds until a 2xx answer, 429s received, final status of the result)."""
    start, refused = time.perf_counter(), 0
    with httpx.Client(base_url=url, timeout=300.0) as client:
        while True:
            response = client.post("/v1/detect", files={"file": ("face.jpg", image, "image/jpeg")})
            if response.status_code != 429:
                break
            refused += 1
            time.sleep(float(response.headers.get("Retry-After", "1")))
        elapsed = time.perf_counter() - start
        body = response.json()
        status = body.get("status") or str(response.status_code)
    return elapsed, refused, status


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100)
    default_image = get_settings().shared_dir / "data" / "london" / "london_002_neutral.jpg"
    parser.add_argument("--image", type=Path, default=default_image)
    args = parser.parse_args()
    image = args.image.read_bytes()
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "DEEPFAKE_DATA_DIR": data_dir}
        command = [sys.executable, "-m", "deepfake_detect.cli", "serve", "--port", str(port)]
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            one_upload(url, image)  # warm-up: models loaded, first inference done
            started = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                outcomes = list(pool.map(lambda _: one_upload(url, image), range(args.clients)))
            wall = time.perf_counter() - started
            healthy = httpx.get(f"{url}/health", timeout=5).status_code == 200
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies = sorted(o[0] for o in outcomes)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    statuses = {s: sum(o[2] == s for o in outcomes) for s in {o[2] for o in outcomes}}
    print(f"{args.clients} concurrent image uploads of {len(image)} bytes, {os.cpu_count()} CPUs")
    print(f"latency median {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s")
    print(
        f"all answered in {wall:.1f} s ({args.clients / wall:.1f} images/s); 429s answered: "
        f"{sum(o[1] for o in outcomes)}; final statuses {statuses}; healthy after: {healthy}"
    )
    return 0 if statuses == {"done": args.clients} and healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`torchbasics serve` under load: throughput, latency, errors and memory against the goals.

    python benchmarks/serve.py                              # train a convnet (1 epoch), measure
    python benchmarks/serve.py --run runs/mnist-convnet     # a trained MNIST run
    python benchmarks/serve.py --quick                      # a smoke run (a few seconds of load)
    python benchmarks/serve.py --json results.json          # also write what it measured

Canvas-sized pictures: MNIST test digits drawn as the page's pad makes them (280x280 RGBA
PNG, dark ink on white). First the in-process limit: ``predict_many`` on the same PNG
files in this process, batches of 64, decoding included. Then ``torchbasics serve`` is
started as users start it (a subprocess, 127.0.0.1, any free port) and N clients, each
with one keep-alive connection, send one picture per request (raw ``image/png`` body) for
a bounded number of requests and time: 8 clients (the latency goal) and 32 clients (the
error goal). Printed: requests/s, p50/p95/p99 latency, errors, the server's RSS before and
after, and a Markdown table against the goals. Exits 1 if a goal is missed.

Last, the Inside view: the seed's ``cnn`` (trained for 1 epoch unless ``--cnn-run`` is
given) served alone, one client sending pictures one after another as the page does while
the learner draws (``?seen=true&inside=true``): the whole request, attribution map and
feature maps included, p95 within :data:`GOALS`' ``inside_ms``.

The clients are plain asyncio streams in one process: they share the 2 cores with the
server, so they must cost as little CPU per request as possible (an HTTP library costs
several times more, which would be measured as server slowness).

With ``--json PATH`` the figures are written with the machine, the date and the command
(``benchmarks/_results.py``); the Serving results page is made from the committed file
(``benchmarks/results-serve-DATE.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import _results
import numpy as np

from torchbasics.serve.served import url_name

GOALS = {"errors": 0, "share": 0.5, "p99_ms": 100.0, "rss_mb": 50.0, "inside_ms": 100.0}
INSIDE_REQUESTS = 200
WARM_UP_REQUESTS = 200


def canvas_pictures(count: int) -> list[bytes]:
    """``count`` MNIST test digits as 280x280 RGBA PNGs, dark ink on white, like the pad's."""
    from PIL import Image

    from torchbasics.data.sources import load_split

    test = load_split("mnist", "test", progress=False)
    pictures = []
    for image in test.images[:count, 0].numpy():
        gray = Image.fromarray(255 - image).resize((280, 280), Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        gray.convert("RGBA").save(buffer, format="PNG")
        pictures.append(buffer.getvalue())
    return pictures


def in_process_limit(run: Path, pictures: list[bytes], seconds: float) -> dict[int, float]:
    """Pictures/s of ``predict_many`` here, batches of 64, PNG decoding included, with one
    PyTorch thread and with one per core (the limit is the better of the two)."""
    import torch
    from PIL import Image

    import torchbasics

    classifier = torchbasics.load(run)
    batch = [pictures[i % len(pictures)] for i in range(64)]
    rates = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        classifier.predict_many([Image.open(io.BytesIO(p)) for p in batch])  # warm up
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            classifier.predict_many([Image.open(io.BytesIO(p)) for p in batch])
            done += len(batch)
        rates[threads] = done / (time.perf_counter() - start)
    return rates


# ------------------------------------------------------------------------ the server

def start_server(run: Path) -> tuple[subprocess.Popen, str]:
    """``torchbasics serve RUN --port 0`` as a subprocess; returns it and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "torchbasics", "serve", str(run), "--port", "0"],
        stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    banner = process.stdout.readline() + process.stdout.readline()
    match = re.search(r"open (http://\S+)", banner)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {banner!r}")
    url = match.group(1).replace("localhost", "127.0.0.1")
    for _ in range(600):  # until it answers (the lifespan warms the model up first)
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5):
                return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not answer /healthz within a minute")


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


# ------------------------------------------------------------------------ the clients

@dataclass
class Load:
    """What a load run measured."""

    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: dict[str, int] = field(default_factory=dict)  # status or exception -> count

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")


async def one_client(host: str, port: int, path: str, pictures: list[bytes], offset: int,
                     quota: list[int], deadline: float, load: Load) -> None:
    """One keep-alive connection sending pictures until the shared quota or time runs out."""
    reader, writer = await asyncio.open_connection(host, port)
    index = offset
    try:
        while quota[0] > 0 and time.perf_counter() < deadline:
            quota[0] -= 1
            body = pictures[index % len(pictures)]
            index += 1
            head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            start = time.perf_counter()
            writer.write(head + body)
            status, _ = await read_response(reader)
            if status == 200:
                load.latencies.append(time.perf_counter() - start)
            else:
                load.errors[str(status)] = load.errors.get(str(status), 0) + 1
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        load.errors[type(exc).__name__] = load.errors.get(type(exc).__name__, 0) + 1
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length: its status and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    return status, await reader.readexactly(length)


def run_load(url: str, path: str, pictures: list[bytes], clients: int, requests: int,
             seconds: float) -> Load:
    """``clients`` concurrent connections sharing ``requests`` requests, at most ``seconds``."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    load = Load(clients)

    async def main() -> None:
        quota = [requests]
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        await asyncio.gather(*(one_client(host, int(port), path,
                                          pictures, 997 * i, quota, deadline, load)
                               for i in range(clients)))
        load.seconds = time.perf_counter() - start

    asyncio.run(main())
    return load


# ------------------------------------------------------------------------ report

def inside_latency(run: Path, pictures: list[bytes], seconds: float) -> Load:
    """One client asking for the Inside view of picture after picture, as the page does."""
    process, url = start_server(run)
    try:
        path = f"/api/models/{url_name(run)}/predict?seen=true&top=3&inside=true"
        run_load(url, path, pictures, 1, 20, seconds)  # warm-up
        return run_load(url, path, pictures, 1, INSIDE_REQUESTS, seconds)
    finally:
        process.terminate()
        process.wait(20)


def load_row(load: Load) -> dict:
    """A load run's row: clients, requests, errors, requests/s and latency percentiles."""
    return {"clients": load.clients, "requests": load.requests,
            "errors": sum(load.errors.values()), "error_kinds": dict(load.errors),
            "requests_per_second": len(load.latencies) / load.seconds,
            "p50_ms": load.percentile(50), "p95_ms": load.percentile(95),
            "p99_ms": load.percentile(99)}


def figures(rates: dict[int, float], light: Load, heavy: Load,
            rss: tuple[float, float, float], inside: Load) -> dict:
    """What a run measured, judged against :data:`GOALS`: the load runs, the in-process
    limit, the server's memory and the Inside view's latency."""
    from torchbasics.explain.live import LIVE_STEPS

    loads = [load_row(light), load_row(heavy)]
    limit = max(rates.values())
    best = max(row["requests_per_second"] for row in loads)
    inside_row = {"requests": inside.requests, "errors": sum(inside.errors.values()),
                  "steps": LIVE_STEPS, "p50_ms": inside.percentile(50),
                  "p95_ms": inside.percentile(95)}
    return {
        "loads": loads, "in_process": {str(threads): rate for threads, rate in rates.items()},
        "throughput": best, "limit": limit, "share": best / limit, "rss_mib": list(rss),
        "rss_growth_mib": rss[2] - rss[0], "warm_up_requests": WARM_UP_REQUESTS,
        "inside": inside_row, "goals": dict(GOALS),
        "met": {"errors": sum(row["errors"] for row in loads) == GOALS["errors"],
                "throughput": best >= GOALS["share"] * limit,
                "p99": loads[0]["p99_ms"] <= GOALS["p99_ms"],
                "rss": rss[2] - rss[0] <= GOALS["rss_mb"],
                "inside": inside_row["errors"] == 0
                and inside_row["p95_ms"] <= GOALS["inside_ms"]}}


def goal_rows(measured: dict) -> list[tuple[str, str, str, bool]]:
    """The goals table's rows: what, measured, target, met."""
    light, heavy = measured["loads"]
    goals, met, inside, rss = (measured["goals"], measured["met"], measured["inside"],
                               measured["rss_mib"])
    limits = sorted(measured["in_process"].items(), key=lambda item: int(item[0]))
    rates = [f"{rate:,.0f} with {threads}" for threads, rate in limits]
    threads, rate = limits[0]
    rates[0] = f"{rate:,.0f} pictures/s with {threads} PyTorch thread{'s' * (threads != '1')}"
    return [
        (f"errors, {heavy['requests']:,} requests at {heavy['clients']} clients "
         f"(+ {light['requests']:,} at {light['clients']})",
         f"{light['errors'] + heavy['errors']}", f"{goals['errors']}", met["errors"]),
        ("throughput vs the in-process limit (`predict_many`, batches of 64, decoding "
         f"included; {', '.join(rates)})",
         f"{measured['throughput']:,.0f} vs {measured['limit']:,.0f} pictures/s "
         f"({100 * measured['share']:.0f} %)", f"≥ {100 * goals['share']:.0f} %",
         met["throughput"]),
        (f"p99 latency at {light['clients']} clients", f"{light['p99_ms']:.1f} ms",
         f"≤ {goals['p99_ms']:g} ms", met["p99"]),
        (f"server RSS: ready → after a {measured['warm_up_requests']}-request warm-up → "
         "after all load", f"{rss[0]:.0f} → {rss[1]:.0f} → {rss[2]:.0f} MiB "
         f"(+{measured['rss_growth_mib']:.0f})", f"≤ +{goals['rss_mb']:g} MiB", met["rss"]),
        ("an Inside update for the cnn (the whole request: prediction, the "
         f"{inside['steps']}-step Integrated Gradients map, the feature maps; one client, "
         f"{inside['requests']} pictures)",
         f"p95 {inside['p95_ms']:.1f} ms (median {inside['p50_ms']:.1f} ms)",
         f"≤ {goals['inside_ms']:g} ms", met["inside"]),
    ]


def print_table(measured: dict) -> None:
    """A measurement's two tables: the load runs, and the goals."""
    print("| clients | requests | errors | requests/s | p50 | p95 | p99 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in measured["loads"]:
        kinds = f" {row['error_kinds']}" if row.get("error_kinds") else ""
        print(f"| {row['clients']} | {row['requests']:,} | {row['errors']}{kinds} | "
              f"{row['requests_per_second']:,.0f} | {row['p50_ms']:.1f} ms | "
              f"{row['p95_ms']:.1f} ms | {row['p99_ms']:.1f} ms |")
    print("\n| goal | measured | target | met |\n|---|---|---|---|")
    for goal, figure, target, met in goal_rows(measured):
        print(f"| {goal} | {figure} | {target} | {'yes' if met else 'NO'} |")


def print_results(results: dict) -> None:
    """Every measurement of a results file, each under the line naming its machine, date
    and command (what the Serving results page shows)."""
    _results.print_measurements(results, print_table)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a trained MNIST run (default: train a "
                        "convnet for 1 epoch: its speed, not its accuracy, is measured)")
    parser.add_argument("--requests", type=int, default=10_000,
                        help="requests at 32 clients (default: 10000)")
    parser.add_argument("--seconds", type=float, default=120,
                        help="time limit of each load run (default: 120)")
    parser.add_argument("--cnn-run", type=Path, help="a trained MNIST cnn run for the "
                        "Inside view (default: train one for 1 epoch)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 requests")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the figures, machine, date and command here "
                        "(default: none)")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.seconds = 300, 20
    started = time.perf_counter()

    run = args.run or trained("convnet")
    cnn_run = args.cnn_run or trained("cnn")
    pictures = canvas_pictures(200)
    load_before = os.getloadavg()[0]
    print(f"load average before: {load_before:.2f}", flush=True)
    rates = in_process_limit(run, pictures, 3 if args.quick else 10)
    print("in-process limit: " + ", ".join(f"{rate:,.0f} pictures/s with {threads} PyTorch "
                                           f"thread(s)" for threads, rate in rates.items()),
          flush=True)

    process, url = start_server(run)
    try:
        path = f"/api/models/{url_name(run)}/predict"
        ready = rss_mb(process.pid)
        run_load(url, path, pictures, 8, WARM_UP_REQUESTS, args.seconds)
        warm = rss_mb(process.pid)
        light = run_load(url, path, pictures, 8, max(args.requests // 5, 100), args.seconds)
        heavy = run_load(url, path, pictures, 32, args.requests, args.seconds)
        after = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(20)
    inside = inside_latency(cnn_run, pictures, args.seconds)
    load_after = os.getloadavg()[0]
    print(f"load average after: {load_after:.2f}\n")
    measured = _results.measurement(
        _results.command_line("serve.py", argv), started, quick=args.quick,
        load_average=[load_before, load_after],
        **figures(rates, light, heavy, (ready, warm, after), inside))
    if args.json:
        _results.write(args.json, "serve", measured)
    print_results({"measurements": [measured]})
    return 0 if all(measured["met"].values()) else 1


def trained(model: str) -> Path:
    """``model`` trained for 1 epoch on MNIST in a temporary folder (its speed is measured,
    not its accuracy)."""
    from torchbasics.runs.config import TrainConfig
    from torchbasics.runs.train import train

    run = Path(tempfile.mkdtemp(prefix="serve-benchmark-")) / model
    print(f"training {model} for 1 epoch on MNIST ...", file=sys.stderr, flush=True)
    train(TrainConfig(dataset="mnist", model=model, epochs=1), run, log=lambda line: None)
    return run


if __name__ == "__main__":
    sys.exit(main())

"""The micro-batcher on its own, with a stand-in model that records every call."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import pytest

from torchbasics.errors import TorchbasicsError
from torchbasics.serve.batching import MicroBatcher


@dataclass(frozen=True)
class Fake:
    """A prediction: the picture it was for, and a top list as long as asked."""

    image: object
    top: tuple


class Recorder:
    """``predict_many`` that records its batches, takes ``seconds``, refuses "blank"."""

    def __init__(self, seconds: float = 0.0):
        self.seconds = seconds
        self.batches: list[list] = []
        self.threads: set[str] = set()

    def __call__(self, images, top):
        self.batches.append(list(images))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        if "blank" in images:
            raise TorchbasicsError("the image is blank")
        return [Fake(image, tuple(range(top))) for image in images]


def run(coroutine):
    return asyncio.run(coroutine)


async def busy(batcher: MicroBatcher, model: Recorder) -> asyncio.Future:
    """Give the worker one job and return once it is running it (so that what is sent
    next queues up behind it, however slowly this machine schedules threads)."""
    blocker = asyncio.ensure_future(batcher.predict(["x"], top=1))
    while not model.batches:
        await asyncio.sleep(0.001)
    return blocker


def test_a_lone_request_is_not_kept_waiting():
    model = Recorder()
    batcher = MicroBatcher(model, max_wait=5.0)
    try:
        start = time.monotonic()
        result = run(batcher.predict(["a"], top=2))
        assert time.monotonic() - start < 2.5  # nothing announced: no wait (5 s otherwise)
        assert result == [Fake("a", (0, 1))]
        assert model.threads == {"batcher-model"}  # the model ran off the event loop
    finally:
        batcher.close()


def test_requests_that_arrive_together_share_one_forward_pass():
    model = Recorder(seconds=0.05)
    batcher = MicroBatcher(model, max_wait=0.2)

    async def many():
        # The first job keeps the worker busy while twenty more queue up behind it.
        first = await busy(batcher, model)
        rest = [batcher.predict([f"p{i}", f"q{i}"], top=1) for i in range(20)]
        return await first, await asyncio.gather(*rest)

    try:
        first, rest = run(many())
        assert first == [Fake("x", (0,))]
        assert [[p.image for p in r] for r in rest] == [[f"p{i}", f"q{i}"] for i in range(20)]
        assert len(model.batches) == 2 and len(model.batches[1]) == 40
        assert (batcher.batches, batcher.pictures) == (2, 41)
    finally:
        batcher.close()


def test_announced_requests_are_waited_for_briefly():
    model = Recorder()
    batcher = MicroBatcher(model, max_wait=1.0)

    async def announced_then_submitted():
        loop = asyncio.get_running_loop()
        with batcher.incoming() as ticket:
            early = batcher.predict(["early"], top=1)
            task = asyncio.ensure_future(early)
            await asyncio.sleep(0.1)  # "decoding": the worker waits for this one
            late = batcher.submit(["late"], 1, ticket)
        started = loop.time()
        return await task, await late, loop.time() - started

    try:
        early, late, _ = run(announced_then_submitted())
        assert model.batches == [["early", "late"]]
        assert early[0].image == "early" and late[0].image == "late"
    finally:
        batcher.close()


def test_the_wait_is_bounded():
    model = Recorder()
    batcher = MicroBatcher(model, max_wait=0.05)

    async def announced_but_slow():
        with batcher.incoming():
            start = time.monotonic()
            result = await batcher.predict(["now"], top=1)  # the other one never comes
            return result, time.monotonic() - start

    try:
        result, seconds = run(announced_but_slow())
        assert result[0].image == "now" and 0.04 < seconds < 2.0
    finally:
        batcher.close()


def test_a_refused_picture_fails_only_its_own_request():
    model = Recorder(seconds=0.05)
    batcher = MicroBatcher(model, max_wait=0.2)

    async def mixed():
        blocker = await busy(batcher, model)
        jobs = [batcher.predict(["a"], 1), batcher.predict(["blank"], 1),
                batcher.predict(["b", "c"], 1)]
        await blocker
        return await asyncio.gather(*jobs, return_exceptions=True)

    try:
        good, bad, also_good = run(mixed())
        assert [p.image for p in good] == ["a"] and [p.image for p in also_good] == ["b", "c"]
        assert isinstance(bad, TorchbasicsError) and "blank" in bad.message
    finally:
        batcher.close()


def test_each_request_gets_its_own_top():
    model = Recorder(seconds=0.05)
    batcher = MicroBatcher(model, max_wait=0.2)

    async def two():
        blocker = await busy(batcher, model)
        both = await asyncio.gather(batcher.predict(["a"], 1), batcher.predict(["b"], 3))
        await blocker
        return both

    try:
        one, three = run(two())
        assert one[0].top == (0,) and three[0].top == (0, 1, 2)
    finally:
        batcher.close()


def test_a_batch_never_exceeds_max_batch_and_jobs_are_not_split():
    model = Recorder(seconds=0.05)
    batcher = MicroBatcher(model, max_batch=5, max_wait=0.2)

    async def burst():
        blocker = await busy(batcher, model)
        results = await asyncio.gather(*(batcher.predict([i, i], 1) for i in range(6)))
        await blocker
        return results

    try:
        results = run(burst())
        assert [len(r) for r in results] == [2] * 6
        assert all(len(b) <= 5 for b in model.batches) and len(model.batches) == 4
    finally:
        batcher.close()


def test_a_bug_in_the_model_is_an_error_not_a_dead_worker():
    calls = []

    def broken(images, top):
        calls.append(images)
        if len(calls) == 1:
            raise RuntimeError("bug")
        return [Fake(image, ()) for image in images]

    batcher = MicroBatcher(broken)
    try:
        with pytest.raises(RuntimeError, match="bug"):
            run(batcher.predict(["a"], 1))
        assert run(batcher.predict(["b"], 1))[0].image == "b"
    finally:
        batcher.close()


def test_close_stops_the_worker_and_refuses_new_jobs():
    batcher = MicroBatcher(Recorder())
    batcher.close()
    assert not batcher._thread.is_alive()
    with pytest.raises(RuntimeError, match="stopping"):
        run(batcher.predict(["a"], 1))

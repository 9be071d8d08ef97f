"""Micro-batching: pictures from requests that arrive together go through one forward pass.

One worker thread per served model takes every job waiting in its queue and predicts them
with a single ``predict_many`` call, so the event loop never runs the model and a burst of
requests costs one pass instead of one each. It waits for more only while a request it
was told about (:meth:`MicroBatcher.incoming`) is still being read and decoded, and then
at most ``max_wait`` seconds: a lone request is answered at once, and a burst is gathered.

A job whose picture the model refuses (a blank one) must not fail the others it was
batched with: when a whole batch fails with a :class:`TorchbasicsError`, each job is
predicted again on its own, and only the guilty one gets the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from torchbasics.errors import TorchbasicsError
from torchbasics.serve.memory import trimmer

MAX_WAIT = 0.003  # seconds a batch may wait for requests still being decoded
MAX_BATCH = 64  # pictures per forward pass

PredictMany = Callable[..., list[Any]]  # Classifier.predict_many(images, top=k)


@dataclass
class Ticket:
    """An announced request (see :meth:`MicroBatcher.incoming`)."""

    submitted: bool = False


@dataclass
class Job:
    """One request's pictures, and where to deliver their predictions."""

    images: Sequence[Any]
    top: int
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class MicroBatcher:
    """Runs ``predict_many`` for concurrent requests in batches, on a thread of its own.

    Args:
        predict_many: ``predict_many(images, top=k) -> list[Prediction]``.
        max_batch: at most this many pictures per call (a job is never split).
        max_wait: how long a batch may wait for requests announced by :meth:`incoming`.
        name: for the thread's name.
        warm_up: pictures to predict once when the worker starts, so that the first request
            does not pay for the first pass's one-time set-up (errors are ignored).
    """

    def __init__(self, predict_many: PredictMany, *, max_batch: int = MAX_BATCH,
                 max_wait: float = MAX_WAIT, name: str = "model",
                 warm_up: Sequence[Any] = ()):
        self._predict_many = predict_many
        self._warm_up = list(warm_up)
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._jobs: deque[Job] = deque()
        self._coming = 0  # requests announced by incoming() and not yet submitted
        self._closed = False
        self._condition = threading.Condition()
        self.batches = 0  # forward passes so far (for tests and the benchmark)
        self.pictures = 0
        self._thread = threading.Thread(target=self._work, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def incoming(self) -> Iterator[Ticket]:
        """Around reading and decoding a request: the worker may wait for its pictures.

        Hand the ticket it yields to :meth:`submit`; leaving the block without submitting
        (the request was bad) withdraws the announcement.
        """
        ticket = Ticket()
        with self._condition:
            self._coming += 1
        try:
            yield ticket
        finally:
            with self._condition:
                if not ticket.submitted:
                    self._coming -= 1
                    self._condition.notify()

    def submit(self, images: Sequence[Any], top: int,
               ticket: Ticket | None = None) -> asyncio.Future:
        """Queue ``images``; the future gets their predictions (call from the event loop)."""
        loop = asyncio.get_running_loop()
        job = Job(images, top, loop.create_future(), loop)
        with self._condition:
            if self._closed:
                raise RuntimeError("the server is stopping")
            self._jobs.append(job)
            if ticket is not None and not ticket.submitted:
                ticket.submitted = True  # queued and no longer coming, in one step
                self._coming -= 1
            self._condition.notify()
        return job.future

    async def predict(self, images: Sequence[Any], top: int) -> list[Any]:
        """The predictions for ``images``, from the next batch the worker runs."""
        return await self.submit(images, top)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after the batch it is running."""
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join(timeout)

    def _work(self) -> None:
        """The worker thread: take a batch, predict it, deliver, again; when nothing is
        waiting, give freed memory back to the system (see :mod:`.memory`)."""
        trim = trimmer()
        if self._warm_up:
            with contextlib.suppress(Exception):
                self._predict_many(self._warm_up, top=1)
        while True:
            jobs = self._take()
            if not jobs:
                return
            self._run(jobs)
            if not self._jobs:
                trim()

    def _take(self) -> list[Job]:
        """The next jobs (up to ``max_batch`` pictures); ``[]`` once closed and drained."""
        with self._condition:
            while not self._jobs and not self._closed:
                self._condition.wait()
            deadline = time.monotonic() + self.max_wait
            # Wait while requests are on their way and the batch has room, a few ms at most.
            while (self._coming and self._pictures_waiting() < self.max_batch
                   and not self._closed):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            jobs, size = [], 0
            while self._jobs and (not jobs or size + len(self._jobs[0].images) <= self.max_batch):
                job = self._jobs.popleft()
                jobs.append(job)
                size += len(job.images)
            return jobs

    def _pictures_waiting(self) -> int:
        return sum(len(job.images) for job in self._jobs)

    def _run(self, jobs: list[Job]) -> None:
        """Predict ``jobs`` in one call; if the model refuses a picture, each job alone."""
        live = [job for job in jobs if not job.future.done()]  # drop abandoned requests
        if not live:
            return
        try:
            top = max(job.top for job in live)
            predictions = self._predict_many([im for job in live for im in job.images], top=top)
            self.batches += 1
            self.pictures += len(predictions)
        except TorchbasicsError as error:
            if len(live) == 1:
                _deliver(live[0], error=error)
            else:
                for job in live:
                    self._run([job])
            return
        except Exception as error:  # a bug: the requests get a 500, the worker lives on
            for job in live:
                _deliver(job, error=error)
            return
        start = 0
        for job in live:
            mine = predictions[start:start + len(job.images)]
            start += len(job.images)
            _deliver(job, [dataclasses.replace(p, top=p.top[:job.top]) for p in mine])


def _deliver(job: Job, result: list[Any] | None = None,
             error: BaseException | None = None) -> None:
    """Hand the result to the request's event loop (futures are not thread-safe)."""
    def settle() -> None:
        if job.future.done():  # the client went away and the request was cancelled
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
        job.loop.call_soon_threadsafe(settle)

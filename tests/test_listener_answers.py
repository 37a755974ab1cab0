"""Answers that go on after Slack's ack: failures logged with their traceback, shutdown drains them."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from bot.listeners.answers import Answers


async def test_a_failing_answer_is_logged_with_its_traceback_and_the_others_finish():
    answers = Answers(delay=0)
    done = []

    async def fine():
        done.append("fine")

    async def broken():
        raise RuntimeError("boom")

    with capture_logs() as logs:
        answers.start(broken(), "command answer", user="U1")
        answers.start(fine(), "command answer", user="U2")
        await answers.drain(timeout=1)
    assert done == ["fine"]
    (failure,) = logs
    assert (failure["event"], failure["user"], failure["log_level"], failure["exc_info"]) == (
        "command answer failed", "U1", "error", True)


async def test_answers_start_after_their_delay_and_drain_waits_for_them():
    answers = Answers(delay=0.05)
    started = []

    async def answer():
        started.append(asyncio.get_running_loop().time())

    at = asyncio.get_running_loop().time()
    answers.start(answer(), "command answer")
    await asyncio.sleep(0)
    assert started == []  # the ack goes out first
    await answers.drain(timeout=1)
    assert len(started) == 1 and started[0] - at >= 0.05


async def test_drain_cancels_what_overruns_its_timeout():
    answers = Answers(delay=0)
    cancelled = asyncio.Event()

    async def slow():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    answers.start(slow(), "command answer")
    await asyncio.sleep(0.01)
    await answers.drain(timeout=0.05)
    assert cancelled.is_set()

"""Group commit: batching, per-row failure isolation, shutdown."""

import asyncio

import pytest

from integrations.store.group_commit import GroupCommit


async def test_concurrent_submits_share_transactions_and_get_their_own_answers():
    batches = []

    async def write(rows):
        batches.append(list(rows))
        return {r for r in rows if r != "dup"}

    commit = GroupCommit(write)
    results = await asyncio.gather(*(commit.submit(r, r) for r in ["a", "b", "dup", "c"]))
    assert results == [True, True, False, True]
    # All four arrived before the writer ran: one transaction for the four of them.
    assert batches == [["a", "b", "dup", "c"]]


async def test_one_bad_row_fails_only_itself():
    async def write(rows):
        await asyncio.sleep(0)
        if "bad" in rows:
            raise ValueError("NUL byte in value")
        return set(rows)

    commit = GroupCommit(write)
    first = asyncio.create_task(commit.submit("a", "a"))  # occupies the writer
    await asyncio.sleep(0)
    others = [asyncio.create_task(commit.submit(r, r)) for r in ["b", "bad", "c"]]
    assert await first is True
    results = await asyncio.gather(*others, return_exceptions=True)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], ValueError)


async def test_shutdown_answers_every_waiting_caller():
    release = asyncio.Event()

    async def write(rows):
        await release.wait()
        return set(rows)

    commit = GroupCommit(write)
    waiting = [asyncio.create_task(commit.submit(r, r)) for r in ["a", "b"]]
    await asyncio.sleep(0.05)
    commit._writer.cancel()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_a_caller_that_goes_away_cancels_nobody_elses_write():
    batches = []

    async def write(rows):
        await asyncio.sleep(0.01)
        batches.append(list(rows))
        return set(rows)

    commit = GroupCommit(write)
    gone = asyncio.create_task(commit.submit("gone", "gone"))
    stays = asyncio.create_task(commit.submit("stays", "stays"))
    await asyncio.sleep(0.001)  # both in the batch being written
    gone.cancel()
    assert await stays is True
    with pytest.raises(asyncio.CancelledError):
        await gone
    # The delivery of the client that went away is stored all the same (its retry is a duplicate).
    assert batches == [["gone", "stays"]]
    assert await commit.submit("next", "next") is True


async def test_a_failing_row_whose_caller_went_away_fails_nobody_else():
    async def write(rows):
        await asyncio.sleep(0.01)
        if "bad" in rows:
            raise ValueError("refused")
        return set(rows)

    commit = GroupCommit(write)
    bad = asyncio.create_task(commit.submit("bad", "bad"))
    others = [asyncio.create_task(commit.submit(r, r)) for r in ["b", "c"]]
    await asyncio.sleep(0.001)
    bad.cancel()  # its client went away while the batch was being written
    assert await asyncio.gather(*others) == [True, True]
    assert await commit.submit("d", "d") is True  # the writer is still alive


async def test_a_failing_after_write_callback_costs_nobody_their_answer():
    def on_written(rows, written):
        raise BrokenPipeError("stderr is gone")

    async def write(rows):
        await asyncio.sleep(0.01)
        return set(rows)

    commit = GroupCommit(write, on_written=on_written)
    first = asyncio.create_task(commit.submit("a", "a"))
    await asyncio.sleep(0.001)
    queued = asyncio.create_task(commit.submit("b", "b"))  # waits behind the first batch
    assert await asyncio.gather(first, queued) == [True, True]
    assert await commit.submit("c", "c") is True


async def test_closing_waits_for_the_batch_being_written_and_takes_no_more():
    release, written = asyncio.Event(), []

    async def write(rows):
        await release.wait()
        written.extend(rows)
        return set(rows)

    commit = GroupCommit(write)
    first = asyncio.create_task(commit.submit("a", "a"))
    await asyncio.sleep(0.01)
    closing = asyncio.create_task(commit.aclose())
    await asyncio.sleep(0.01)
    assert not closing.done()  # the write in progress finishes first
    with pytest.raises(RuntimeError, match="shutting down"):
        await commit.submit("late", "late")
    release.set()
    await closing
    assert await first is True and written == ["a"]

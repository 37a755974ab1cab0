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

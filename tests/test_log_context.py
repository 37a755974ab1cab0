"""Log context is bound per delivery, channel post and job: a line logged deep inside a step names
them without the call site passing them, and one delivery's context never reaches another's lines."""

from __future__ import annotations

import asyncio

from structlog.contextvars import get_contextvars

from bot.logs import get_logger
from integrations.store.group_commit import GroupCommit
from tests.fakes.slack import InMemorySlack
from tests.test_inbox_worker import ALPHA_CLIENT, ALPHA_INTERNAL, PIN, add, worker

deep = get_logger("test.deep")


class LoggingSlack(InMemorySlack):
    """Slack that logs, deep inside the posting step, without being told who is posting what."""

    async def post_message(self, channel, text, *args, **kwargs):
        deep.info("posting deep inside", posting_to=channel, text_mentions_189="GOLD-189" in text)
        return await super().post_message(channel, text, *args, **kwargs)


async def test_a_line_deep_in_a_worker_step_names_delivery_account_and_channel(store, json_logs):
    add(store, f"{PIN}/jira:issue_created.json", "d-created")
    add(store, f"{PIN}/jira:issue_updated.assignee.json", "d-assignee")
    slack = LoggingSlack()
    report = await worker(store, slack, burst_threshold=99).run_once()
    assert report.statuses == {"done": 2}

    lines = json_logs()
    posting = [line for line in lines if line["event"] == "posting deep inside"]
    # One line per message; the internal channel hears of both deliveries, posted in parallel
    # with the client channel.
    assert len(posting) == len(slack.messages) >= 3
    assert {line["channel"] for line in posting} == {ALPHA_CLIENT, ALPHA_INTERNAL}
    for line in posting:
        assert line["channel"] == line["posting_to"]
        assert line["account"] == "alpha"
        # The message about GOLD-189's creation names that delivery, the other one the other.
        assert line["delivery_id"] == ("d-created" if line["text_mentions_189"] else "d-assignee")
    assert {line["delivery_id"] for line in posting} == {"d-created", "d-assignee"}
    # The batch's own line comes after every delivery: none of their context stays behind.
    batch = next(line for line in lines if line["event"] == "inbox batch")
    assert not {"delivery_id", "channel", "account", "inbox_id"} & batch.keys()
    # Nor in the caller's context once the batch is done.
    assert get_contextvars() == {}


async def test_recorded_outcomes_name_their_own_delivery(store, json_logs):
    from bot.errors import UpstreamError

    slack = InMemorySlack(fail_next=[UpstreamError("slack", "channel_not_found", retryable=False)] * 2)
    add(store, f"{PIN}/jira:issue_created.json", "d-one")
    await worker(store, slack).run_once()
    dead = [line for line in json_logs() if line["event"] == "delivery dead-lettered"]
    assert [(line["delivery_id"], line["source"]) for line in dead] == [("d-one", "jira")]
    assert isinstance(dead[0]["inbox_id"], int)


async def test_the_shared_intake_writer_does_not_carry_the_first_callers_context():
    seen: list[dict] = []

    async def write(rows):
        seen.append(get_contextvars())
        return [row for row in rows]

    commit = GroupCommit(write)

    async def request(delivery_id: str) -> bool:
        from structlog.contextvars import bind_contextvars

        bind_contextvars(delivery_id=delivery_id)  # its own task: bound for this request only
        return await commit.submit(delivery_id, delivery_id)

    assert await asyncio.gather(request("d-1"), request("d-2")) == [True, True]
    assert seen and all(context == {} for context in seen)

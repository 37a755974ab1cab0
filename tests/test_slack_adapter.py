"""The Slack adapter through the real slack_sdk client against the fake Slack server on loopback."""

import asyncio
import datetime as dt

import pytest

from bot.errors import UpstreamError
from integrations.slack import ChannelPacer, SlackWeb, make_web_client
from sandbox.slack_server import FakeSlack

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


def _adapter(fake, interval=0.0, retries=3):
    return SlackWeb(make_web_client(fake.token, fake.api_url, max_retries=retries), ChannelPacer(interval))


async def test_post_reaches_the_fake_with_blocks_and_thread(fake):
    slack = _adapter(fake)
    ts = await slack.post_message("C0ACMECLNT", "hello", [{"type": "divider"}])
    reply = await slack.post_message("C0ACMECLNT", "in thread", thread_ts=ts)
    first, second = fake.posted("C0ACMECLNT")
    assert (first["text"], first["blocks"]) == ("hello", [{"type": "divider"}])
    assert second["thread_ts"] == ts
    assert reply != ts


async def test_update_reaches_the_fake_with_ts_text_and_blocks(fake):
    slack = _adapter(fake)
    ts = await slack.post_message("C0ACMECLNT", "hello", [{"type": "divider"}])
    blocks = [{"type": "divider"}, {"type": "context", "elements": [{"type": "mrkdwn", "text": "Status: Done"}]}]
    await slack.update_message("C0ACMECLNT", ts, "hello", blocks)
    (update,) = fake.calls_to("chat.update")
    assert (update.args["channel"], update.args["ts"], update.args["text"], update.args["blocks"]) == (
        "C0ACMECLNT", ts, "hello", blocks,
    )


async def test_update_errors_are_translated_like_posts(fake):
    fake.fail("chat.update", 503, times=10)
    slack = _adapter(fake, retries=1)
    with pytest.raises(UpstreamError) as info:
        await slack.update_message("C0ACMECLNT", "1790000001.000100", "x")
    assert (info.value.service, info.value.retryable) == ("slack", True)
    assert len(fake.calls_to("chat.update")) == 2


async def test_429_is_retried_after_retry_after(fake):
    fake.fail("chat.postMessage", 429, retry_after=1)
    slack = _adapter(fake)
    await slack.post_message("C0ACMECLNT", "after a rate limit")
    attempts = fake.calls_to("chat.postMessage")
    assert len(attempts) == 2
    assert attempts[1].at - attempts[0].at >= 0.9
    assert [m["text"] for m in fake.posted()] == ["after a rate limit"]


async def test_a_server_error_on_a_post_is_not_resent_blindly_but_left_uncertain(fake):
    # Changed from "retried by the client, up to max_retries": a 5xx may come after Slack posted
    # the message, so resending it could post it twice; the caller settles it from history instead.
    fake.fail("chat.postMessage", 503, times=10)
    slack = _adapter(fake, retries=2)
    with pytest.raises(UpstreamError) as info:
        await slack.post_message("C0ACMECLNT", "x")
    assert (info.value.service, info.value.retryable, info.value.uncertain) == ("slack", True, True)
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_a_post_carries_its_key_as_metadata_and_is_found_again_only_with_it(fake):
    slack = _adapter(fake)
    since = dt.datetime.now(dt.timezone.utc)
    parent = await slack.post_message("C0ACMECLNT", "parent", post_key="k-parent")
    reply = await slack.post_message("C0ACMECLNT", "reply", thread_ts=parent, post_key="k-reply")
    await slack.post_message("C0ACMECLNT", "unmarked")
    (call, *_) = fake.calls_to("chat.postMessage")
    assert call.args["metadata"] == {"event_type": "account_pulse_post", "event_payload": {"post_key": "k-parent"}}
    assert await slack.find_post("C0ACMECLNT", "k-parent", since) == parent
    # A reply lives in its thread, not in the channel's history.
    assert await slack.find_post("C0ACMECLNT", "k-reply", since) is None
    assert await slack.find_post("C0ACMECLNT", "k-reply", since, thread_ts=parent) == reply
    assert await slack.find_post("C0ACMECLNT", "k-other", since) is None
    assert await slack.find_post("C0OTHER01", "k-parent", since) is None
    (history, *_) = fake.calls_to("conversations.history")
    assert (history.args["include_all_metadata"], history.args["channel"]) == ("1", "C0ACMECLNT")
    # Messages from before the window are not read: the search starts at the intent (less skew).
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)
    assert await slack.find_post("C0ACMECLNT", "k-parent", later) is None


async def test_find_post_pages_through_history_and_ignores_other_apps_marks(fake):
    slack = _adapter(fake)
    since = dt.datetime.now(dt.timezone.utc)
    target = await slack.post_message("C0BUSY0001", "ours", post_key="k-target")
    for n in range(450):
        await slack.post_message("C0BUSY0001", f"later {n}")
    # Another app (or person) posting a message with our mark is not taken for ours.
    fake.history["C0BUSY0001"].append({
        "type": "message", "text": "forged", "user": "U0SOMEONE", "ts": "1999999999.000100",
        "metadata": {"event_type": "account_pulse_post", "event_payload": {"post_key": "k-forged"}}})
    assert await slack.find_post("C0BUSY0001", "k-target", since) == target
    assert len(fake.calls_to("conversations.history")) == 3  # 200 + 200 + 51, newest first
    assert await slack.find_post("C0BUSY0001", "k-forged", since) is None


def test_fake_history_answers_like_slack():
    with FakeSlack() as fake:
        def call(method, **args):
            return fake.handle(method, args, fake.token)[1]

        ts = [call("chat.postMessage", channel="C1", text=f"m{n}",
                   metadata={"event_type": "account_pulse_post", "event_payload": {"post_key": f"k{n}"}})["ts"]
              for n in range(5)]
        reply = call("chat.postMessage", channel="C1", text="r", thread_ts=ts[0])["ts"]
        page = call("conversations.history", channel="C1", limit="2")
        # Newest first, replies not in the channel's history, metadata only when asked for.
        assert [m["ts"] for m in page["messages"]] == [ts[4], ts[3]] and page["has_more"] is True
        assert all("metadata" not in m for m in page["messages"])
        rest = call("conversations.history", channel="C1", limit="10", cursor=page["response_metadata"]["next_cursor"],
                    include_all_metadata="true")
        assert [m["ts"] for m in rest["messages"]] == [ts[2], ts[1], ts[0]] and rest["has_more"] is False
        assert rest["response_metadata"]["next_cursor"] == ""
        assert rest["messages"][0]["metadata"]["event_payload"] == {"post_key": "k2"}
        # `oldest` is exclusive unless `inclusive`.
        assert [m["ts"] for m in call("conversations.history", channel="C1", oldest=ts[3])["messages"]] == [ts[4]]
        assert [m["ts"] for m in call("conversations.history", channel="C1", oldest=ts[3], inclusive="1")["messages"]] == [
            ts[4], ts[3]]
        thread = call("conversations.replies", channel="C1", ts=ts[0])
        assert [m["ts"] for m in thread["messages"]] == [ts[0], reply]
        assert thread["messages"][0]["reply_count"] == 1
        assert call("conversations.replies", channel="C1", ts="1.000000")["error"] == "thread_not_found"


async def test_permanent_errors_are_not_retryable(fake):
    fake.fail("chat.postMessage", 200, error="channel_not_found")
    slack = _adapter(fake)
    with pytest.raises(UpstreamError) as info:
        await slack.post_message("C0GONE", "x")
    assert (info.value.retryable, str(info.value)) == (False, "slack: channel_not_found")


async def test_a_refused_token_pauses_posting_until_auth_test_works_again(fake):
    # Changed from "invalid_auth is permanent": a refused token is the operator's to fix, not
    # the message's fault, so it pauses posting instead of dead-lettering the message.
    from structlog.testing import capture_logs

    from bot.errors import CredentialsRefused
    from integrations.slack import SlackPause

    now, wall = [0.0], [NOW]
    client = make_web_client(fake.token, fake.api_url)
    pause = SlackPause(client, probe_every=30, clock=lambda: wall[0], monotonic=lambda: now[0])
    slack = SlackWeb(client, ChannelPacer(0), pause)
    fake.token = "xoxb-rotated"  # the bot's token is revoked: Slack answers invalid_auth
    with capture_logs() as logs:
        for _ in range(2):
            with pytest.raises(CredentialsRefused) as info:
                await slack.post_message("C0ACMECLNT", "x")
            assert info.value.retryable is True
        assert not await pause.ready()  # before the first probe is due: Slack is not asked
    # Slack was asked once; the second message did not knock again. One error for the operator.
    assert len(fake.calls_to("chat.postMessage")) == 1 and fake.calls_to("auth.test") == []
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "slack refused the bot token; posting is paused until it works again (nothing is lost)"]
    now[0] += 30
    assert not await pause.ready()  # probed: still refused
    assert len(fake.calls_to("auth.test")) == 1 and pause.take_ended() is None
    fake.token = "xoxb-fake-token"  # the operator fixed it
    now[0] += 29
    assert not await pause.ready()  # next probe not yet due
    now[0] += 1
    wall[0] = NOW + dt.timedelta(minutes=5)
    assert await pause.ready()
    assert pause.take_ended() == (NOW, NOW + dt.timedelta(minutes=5))
    assert pause.take_ended() is None  # handed out once
    await slack.post_message("C0ACMECLNT", "after the fix")
    assert [m["text"] for m in fake.posted()] == ["after the fix"]


async def test_pacer_spaces_messages_per_channel_and_keeps_order():
    now = [0.0]
    sleeps = []

    async def fake_sleep(seconds):
        sleeps.append(round(seconds, 3))
        now[0] += seconds

    pacer = ChannelPacer(1.0, clock=lambda: now[0], sleep=fake_sleep)
    order = []

    async def send(channel, n):
        await pacer.run(channel, lambda: asyncio.sleep(0, order.append((channel, n))))

    await asyncio.gather(*(send("C1", n) for n in range(3)), send("C2", 0))
    assert [n for c, n in order if c == "C1"] == [0, 1, 2]
    # Two waits of a full second in C1; C2 was never delayed by C1.
    assert sleeps == [1.0, 1.0]


async def test_users_by_email_answers_hits_and_misses_from_the_cache_within_the_ttl(fake):
    from integrations.slack import SlackUsersByEmail

    fake.add_user("U0ADMIN01", email="admin@admin.com")
    now = [100.0]
    users = SlackUsersByEmail(make_web_client(fake.token, fake.api_url), ttl=3600, clock=lambda: now[0])
    assert await users.lookup("admin@admin.com") == "U0ADMIN01"
    assert await users.lookup("Admin@Admin.com ") == "U0ADMIN01"  # Slack emails ignore case
    assert await users.lookup("ghost@admin.com") is None
    assert await users.lookup("ghost@admin.com") is None
    assert [c.args["email"] for c in fake.calls_to("users.lookupByEmail")] == ["admin@admin.com", "ghost@admin.com"]
    now[0] += 3600  # expired: asked again
    assert await users.lookup("ghost@admin.com") is None
    assert len(fake.calls_to("users.lookupByEmail")) == 3


async def test_users_by_email_failures_are_none_logged_and_not_cached(fake):
    from structlog.testing import capture_logs

    from integrations.slack import SlackUsersByEmail

    fake.add_user("U0ADMIN01", email="admin@admin.com")
    fake.fail("users.lookupByEmail", 500, times=2)
    users = SlackUsersByEmail(make_web_client(fake.token, fake.api_url, max_retries=0))
    with capture_logs() as logs:
        assert await users.lookup("admin@admin.com") is None
        assert await users.lookup("") is None  # never asks Slack about an empty address
    assert [(e["log_level"], e["event"], e["error"]) for e in logs] == [
        ("warning", "slack user lookup by email failed", "internal_error")]
    fake.failures.clear()
    assert await users.lookup("admin@admin.com") == "U0ADMIN01"
    assert len(fake.calls_to("users.lookupByEmail")) == 2


async def test_open_dm_gives_the_dm_channel_once_and_a_keyed_dm_is_posted_there(fake):
    fake.add_user("U0ANA0001")
    slack = _adapter(fake)
    channel = await slack.open_dm("U0ANA0001")
    assert channel == fake.dm_channel("U0ANA0001") and channel.startswith("D")
    assert await slack.open_dm("U0ANA0001") == channel  # remembered: one conversations.open per person
    assert [c.args["users"] for c in fake.calls_to("conversations.open")] == ["U0ANA0001"]
    await slack.post_message(channel, "hi", post_key="k1")
    assert [m["text"] for m in fake.posted(channel)] == ["hi"]
    # DMs are never read (no im:history): an uncertain one is not looked for, it is sent again.
    assert await slack.find_post(channel, "k1", NOW) is None
    assert not fake.calls_to("conversations.history")


async def test_open_dm_with_an_unknown_user_is_a_permanent_error(fake):
    fake.add_user("U0ANA0001")
    with pytest.raises(UpstreamError) as info:
        await _adapter(fake).open_dm("U0NOBODY01")
    assert (info.value.retryable, str(info.value)) == (False, "slack: user_not_found")

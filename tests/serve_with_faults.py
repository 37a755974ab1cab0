"""`pulse serve` with one fault injected, for the crash end-to-end tests (`tests/test_crash_e2e.py`,
`tests/test_support_crash_e2e.py`).

With PULSE_TEST_KILL_AFTER_POSTS=N the process SIGKILLs itself right after Slack answered its Nth
post and before that answer is recorded: the one window in which a post is uncertain (Slack has
the message, the store does not know).

With PULSE_TEST_HOLD_SUPPORT_RECORD=S the process waits S seconds after Jira answered a support
request's create and before the store records the issue's key: the window in which Jira has the
issue and the store does not know it is held open, so that a kill sent from outside at the moment
Jira answered (the fake Jira's `on_answered`) lands in it every time, not only when the scheduler
is kind.

With PULSE_TEST_HOLD_ANSWERS=S every answer to an acknowledged Slack request starts S seconds after
its ack (instead of 50 ms): the window in which Slack was told a request arrived and nothing has
answered it yet is held open, so that a kill sent when the test sees the ack lands in it.

Without any, this is exactly `pulse --log-json serve`.
"""

from __future__ import annotations

import os
import signal
import time

from bot.cli import main
from bot.listeners.answers import Answers
from integrations.slack import SlackWeb
from integrations.store.support import SupportRequests


def kill_after_posts(n: int) -> None:
    """Make the process die (SIGKILL: no cleanup of any kind) as Slack answers its `n`th post."""
    post = SlackWeb.post_message
    answered = 0

    async def post_message(self, *args, **kwargs):
        nonlocal answered
        ts = await post(self, *args, **kwargs)
        answered += 1
        if answered >= n:
            os.kill(os.getpid(), signal.SIGKILL)
        return ts

    SlackWeb.post_message = post_message


def hold_support_record(seconds: float) -> None:
    """Wait before recording a support request's issue key (Jira has answered by then)."""
    filed = SupportRequests.filed

    def held(self, *args, **kwargs):
        time.sleep(seconds)
        return filed(self, *args, **kwargs)

    SupportRequests.filed = held


def hold_answers(seconds: float) -> None:
    """Start every acknowledged request's answer `seconds` after its ack."""
    init = Answers.__init__

    def held(self, delay: float = 0.05) -> None:
        init(self, seconds)

    Answers.__init__ = held  # type: ignore[method-assign]


if __name__ == "__main__":
    if os.environ.get("PULSE_TEST_KILL_AFTER_POSTS"):
        kill_after_posts(int(os.environ["PULSE_TEST_KILL_AFTER_POSTS"]))
    if os.environ.get("PULSE_TEST_HOLD_SUPPORT_RECORD"):
        hold_support_record(float(os.environ["PULSE_TEST_HOLD_SUPPORT_RECORD"]))
    if os.environ.get("PULSE_TEST_HOLD_ANSWERS"):
        hold_answers(float(os.environ["PULSE_TEST_HOLD_ANSWERS"]))
    main(["--log-json", "serve"])

"""`pulse serve` with one fault injected, for the crash end-to-end test (`tests/test_crash_e2e.py`).

With PULSE_TEST_KILL_AFTER_POSTS=N the process SIGKILLs itself right after Slack answered its Nth
post and before that answer is recorded: the one window in which a post is uncertain (Slack has
the message, the store does not know). Without it, this is exactly `pulse --log-json serve`.
"""

from __future__ import annotations

import os
import signal

from bot.cli import main
from integrations.slack import SlackWeb


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


if __name__ == "__main__":
    if os.environ.get("PULSE_TEST_KILL_AFTER_POSTS"):
        kill_after_posts(int(os.environ["PULSE_TEST_KILL_AFTER_POSTS"]))
    main(["--log-json", "serve"])

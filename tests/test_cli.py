"""The `pulse` command line, run as a user runs it (a subprocess with a clean environment)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def _pulse(*args, env=None, cwd=None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "JIRA_", "CONFLUENCE_", "PULSE_", "DATABASE_URL"))}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=clean, cwd=cwd or ROOT, timeout=120
    )


def test_help_lists_subcommands():
    result = _pulse("--help")
    assert result.returncode == 0
    for command in ("serve", "demo", "check-config", "db"):
        assert f"  {command} " in result.stdout


def test_serve_without_settings_names_every_missing_setting(tmp_path):
    result = _pulse("serve", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[:7] == [
        "pulse serve cannot start; these settings are missing:",
        "  - SLACK_BOT_TOKEN",
        "  - SLACK_SIGNING_SECRET",
        "  - JIRA_URL",
        "  - JIRA_API_TOKEN",
        "  - JIRA_WEBHOOK_SECRET",
        "  - PULSE_ACCOUNTS_FILE",
    ]
    assert ".env" in result.stderr


def test_serve_reads_dotenv_and_reports_only_what_is_still_missing(tmp_path):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=abc\nJIRA_URL=https://x.atlassian.net\n")
    result = _pulse("serve", cwd=tmp_path)
    assert result.returncode == 2
    missing = [line.removeprefix("  - ").strip() for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert missing == ["JIRA_API_TOKEN", "JIRA_USER", "JIRA_WEBHOOK_SECRET", "PULSE_ACCOUNTS_FILE"]
    assert "xoxb-1" not in result.stderr + result.stdout


def test_check_config_ok_and_errors(tmp_path):
    ok = _pulse("check-config", "config/accounts.example.yaml")
    assert ok.returncode == 0
    assert ok.stdout.startswith("config/accounts.example.yaml: OK — 3 account(s), 6 channel(s)")
    bad = tmp_path / "accounts.yaml"
    bad.write_text("accounts:\n  - key: x\n    name: X\n    timezone: Europe/Berlin\n    channels: []\n    jira: {projects: [X]}\n")
    result = _pulse("check-config", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{bad}: 1 problem(s)\n  - line 5: accounts[0].channels: link at least one channel"


def test_db_upgrade_creates_the_sqlite_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    result = _pulse("db", "upgrade", env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p.db").exists()


def test_slack_manifest_declares_the_endpoints_and_least_privilege_scopes():
    manifest = yaml.safe_load((ROOT / "config" / "slack-manifest.yaml").read_text())
    assert manifest["features"]["slash_commands"][0]["command"] == "/pulse"
    # Sharing events: an internal channel shared later gets the client view at once (review finding).
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_mention", "channel_shared", "channel_unshared", "shared_channel_invite_accepted",
        "app_home_opened",  # the portfolio's Home tab
        "user_status_changed",  # handover: a vacation status gets one "hand your roles over?" DM
        "message.channels", "message.groups"]  # support: first responses and unanswered client messages
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "users:read"} <= scopes
    # Channel history is read to settle a post a crash left uncertain (the bot's own recent
    # messages); message events (support) keep author and time only; DMs or channels the bot was
    # not invited to are never read, and nothing is posted where the bot was not invited (only an
    # admin's DM with the app, when an internal channel without a sibling turned out shared).
    assert {"channels:history", "groups:history"} <= scopes
    assert not scopes & {"chat:write.public", "im:history", "mpim:history"}


def test_digest_needs_jira_settings(tmp_path):
    result = _pulse("digest", "--account", "acme-shop", "--audience", "client", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("pulse digest needs these settings: JIRA_URL, JIRA_API_TOKEN, PULSE_ACCOUNTS_FILE")


def test_digest_as_of_a_given_time_against_the_fake_jira(tmp_path):
    import datetime as dt
    import json

    from sandbox.agency import build_sandbox
    from sandbox.atlassian_server import FakeAtlassian

    at = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
    with FakeAtlassian(build_sandbox(at).seed) as jira:
        env = {
            "JIRA_URL": jira.url, "JIRA_USER": "bot@agency.example", "JIRA_API_TOKEN": "t", "JIRA_CLOUD": "true",
            "PULSE_ACCOUNTS_FILE": str(ROOT / "config" / "accounts.example.yaml"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        }
        as_json = _pulse("digest", "--account", "acme-shop", "--audience", "client", "--format", "json",
                         "--at", "2026-11-23T10:00", env=env)
        as_text = _pulse("digest", "--account", "acme-shop", "--audience", "internal", "--at", "2026-11-23T10:00", env=env)
        unknown = _pulse("digest", "--account", "nope", "--audience", "client", env=env)
    assert as_json.returncode == 0, as_json.stderr
    digest = json.loads(as_json.stdout)
    assert digest["account_key"] == "acme-shop" and digest["audience"] == "client"
    # 10:00 without an offset is the account's (Berlin) time; news since a week before.
    assert (digest["generated_at"], digest["since"]) == ("2026-11-23T10:00:00+01:00", "2026-11-16T10:00:00+01:00")
    assert as_text.returncode == 0 and "ACME Shop GmbH" in as_text.stdout
    assert unknown.returncode == 2 and "known: acme-shop, northwind, globex" in unknown.stderr


# --- output for people: human output on stdout, only warnings on stderr, one line per database failure


def test_one_shot_commands_keep_stderr_free_of_info_logs(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    upgrade = _pulse("db", "upgrade", env=env)  # alembic logs each migration at INFO
    listed = _pulse("inbox", "list", env=env)
    checked = _pulse("check-config", "config/accounts.example.yaml")
    for result in (upgrade, listed, checked):
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    assert upgrade.stdout.startswith("database at ")
    assert listed.stdout == "inbox: empty\n"
    # Asked for, the same command's INFO lines come back (structured, on stderr).
    verbose = _pulse("--log-level", "info", "db", "upgrade", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}"})
    assert verbose.returncode == 0 and "Running upgrade" in verbose.stderr


def test_demo_prints_for_a_person_without_log_lines(tmp_path):
    # In a scratch folder: the demo writes its chart where it is run, never into the repository.
    result = _pulse("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert '"level"' not in result.stdout and "\x1b[" not in result.stdout
    assert "digest message(s) posted" in result.stdout


def test_db_upgrade_against_an_unreachable_database_is_one_line_without_the_password(tmp_path):

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: connections are refused
    url = f"postgresql://pulse:s3cret-pw@127.0.0.1:{port}/pulse"
    result = _pulse("db", "upgrade", env={"DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Cannot open the database at postgresql://pulse:***@127.0.0.1:{port}/pulse (DATABASE_URL): ")
    assert "Connection refused" in line and "Check that the database server is running" in line
    assert "s3cret-pw" not in result.stderr
    # The operator who asks gets the traceback.
    debug = _pulse("--log-level", "debug", "db", "upgrade", env={"DATABASE_URL": url}, cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "s3cret-pw" not in debug.stderr


def test_db_upgrade_to_an_unknown_revision_is_one_line(tmp_path):
    result = _pulse("db", "upgrade", "--revision", "nope", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Migration failed: Can't locate revision identified by 'nope'. The newest revision is "
        + _head() + "; run `pulse db upgrade` without --revision to reach it."
    ]


def _head() -> str:
    from integrations.store.db import head_revision

    return head_revision()


def test_serve_with_a_bad_database_url_is_one_line(tmp_path):
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "a", "JIRA_URL": "http://127.0.0.1:9",
        "JIRA_API_TOKEN": "t", "JIRA_WEBHOOK_SECRET": "s", "JIRA_CLOUD": "false",
        "PULSE_ACCOUNTS_FILE": str(ROOT / "config" / "accounts.example.yaml"),
    }
    for url, start in (
        ("sqlite:////nonexistent-folder/pulse.db", "Cannot open the database at sqlite:////nonexistent-folder/pulse.db"),
        ("mysql+nosuchdriver://x@y/z", "DATABASE_URL mysql+nosuchdriver://x@y/z is not a database URL"),
        ("not a url", "DATABASE_URL (unreadable) is not a database URL"),
    ):
        result = _pulse("serve", env={**env, "DATABASE_URL": url}, cwd=tmp_path)
        assert result.returncode == 1, url
        (line,) = result.stderr.splitlines()
        assert line.startswith(start), line
        assert "Traceback" not in result.stderr


def test_slack_manifest_lets_the_bot_open_dms_without_reading_them():
    scopes = set(yaml.safe_load((ROOT / "config" / "slack-manifest.yaml").read_text())["oauth_config"]["scopes"]["bot"])
    assert "im:write" in scopes  # conversations.open: handover summaries and cover pings by DM
    assert "im:history" not in scopes

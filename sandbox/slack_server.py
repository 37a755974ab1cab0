"""A fake Slack Web API on loopback: the real slack_sdk client talks to it over real HTTP.

Used by the tests and by `pulse demo` (which prints what it received). It answers the methods we
call with the shapes of Slack's real responses, records every call, and can be scripted to fail
(429 with Retry-After, 5xx) to prove retries and pacing.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from sandbox.loopback import LoopbackServer


@dataclass
class SlackCall:
    method: str
    args: dict[str, Any]
    at: float
    ok: bool = True
    response: dict[str, Any] = field(default_factory=dict)
    # For answers sent to a response_url: the key of that URL (see FakeSlack.response_url).
    response_key: str | None = None


@dataclass
class FakeSlackUser:
    id: str
    team_id: str
    name: str = "someone"
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    email: str | None = None
    locale: str = "en-US"


@dataclass
class FakeSlackChannel:
    id: str
    name: str
    is_private: bool = False
    is_ext_shared: bool = False  # shared with another organization (Slack Connect)
    is_member: bool = True  # the bot is in it
    is_archived: bool = False
    members: list[str] = field(default_factory=list)  # conversations.members (user ids)


@dataclass
class FakeSlack:
    """State of the fake workspace; `with FakeSlack() as slack:` serves it at `slack.api_url`."""

    team_id: str = "T0AGENCY1"
    bot_user_id: str = "U0PULSEBOT"
    token: str = "xoxb-fake-token"
    app_token: str = "xapp-fake-token"
    # Where apps.connections.open sends Socket Mode clients (a test's websocket server).
    socket_url: str | None = None
    users: dict[str, FakeSlackUser] = field(default_factory=dict)
    # users.info answers served verbatim by user id: the shapes `add_user` does not make (an
    # Enterprise Grid record, one without `team_id`, `ok` without a `user`…).
    users_info_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    channels: dict[str, FakeSlackChannel] = field(default_factory=dict)
    calls: list[SlackCall] = field(default_factory=list)
    # Scripted failures, consumed in order per method: (429, retry_after), (500, None), or
    # (200, error): Slack's `{"ok": false, "error": …}` answer.
    failures: dict[str, list[tuple[int, float | str | None]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ts_lock = threading.Lock()
        self._last_ts = 0.0
        self._server: LoopbackServer | None = None
        # Every message each channel holds, in posting order (thread replies too).
        self.history: dict[str, list[dict[str, Any]]] = {}
        # The Home tab each user was last published (views.publish).
        self.views: dict[str, dict[str, Any]] = {}
        # Files uploaded through files.getUploadURLExternal / the upload / completeUploadExternal, by id.
        self.files: dict[str, dict[str, Any]] = {}

    # --- test API -------------------------------------------------------------------------
    def add_user(self, user_id: str, team_id: str | None = None, **kw: Any) -> FakeSlackUser:
        user = FakeSlackUser(user_id, team_id or self.team_id, **kw)
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, **kw: Any) -> FakeSlackChannel:
        """A channel conversations.info knows (`is_member`, `is_ext_shared`, `is_private`…)."""
        channel = FakeSlackChannel(channel_id, name, **kw)
        self.channels[channel_id] = channel
        return channel

    def add_channels_of(self, accounts: Any) -> None:
        """Every channel of an AccountsConfig, set up as configured: a client channel shared with
        the client's organization, an internal one not shared."""
        for account in accounts.accounts:
            for channel in account.channels:
                self.add_channel(channel.id, channel.name or channel.id,
                                 is_ext_shared=channel.audience.value == "client")

    def fail(
        self, method: str, status: int, retry_after: float | None = None, times: int = 1, error: str | None = None
    ) -> None:
        """Answer the next `times` calls of `method` with an HTTP error (429 with Retry-After, 5xx) or,
        with `error`, with HTTP 200 and Slack's `{"ok": false, "error": error}`."""
        self.failures.setdefault(method, []).extend([(status, error if error else retry_after)] * times)

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages Slack accepted through chat.postMessage (optionally in one channel), in order."""
        return [
            c.args
            for c in self.calls
            if c.method == "chat.postMessage"
            and c.ok
            and (channel is None or c.args.get("channel") == channel)
        ]

    def post_keys(self) -> list[str | None]:
        """The `post_key` in the metadata of every message Slack accepted (None: unmarked)."""
        keys = []
        for args in self.posted():
            metadata = args.get("metadata")
            metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
            keys.append(((metadata or {}).get("event_payload") or {}).get("post_key"))
        return keys

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    @property
    def api_url(self) -> str:
        assert self._server is not None, "use FakeSlack as a context manager"
        return f"http://127.0.0.1:{self._server.port}/api/"

    def __enter__(self) -> FakeSlack:
        self._server = LoopbackServer(_Handler, self)
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.stop()

    # --- Web API --------------------------------------------------------------------------
    def response_url(self, key: str) -> str:
        """A response_url for slash command payloads; what Bolt's respond() sends lands in `calls`."""
        return f"http://127.0.0.1:{self._server.port}/response/{key}" if self._server else ""

    def responses(self, key: str | None = None) -> list[dict[str, Any]]:
        """Answers sent to response URLs (only to `response_url(key)` when a key is given), in order."""
        return [c.args for c in self.calls if c.method == "response" and (key is None or c.response_key == key)]

    def handle(self, method: str, args: dict[str, Any], token: str | None) -> tuple[int, dict, dict]:
        if method.startswith("/response/"):
            with self._lock:
                self.calls.append(SlackCall("response", args, time.monotonic(), response_key=method.removeprefix("/response/")))
            return 200, {"ok": True}, {}
        with self._lock:
            call = SlackCall(method, args, time.monotonic())
            self.calls.append(call)
            scripted = self.failures.get(method)
            if scripted:
                call.ok = False
                status, detail = scripted.pop(0)
                if isinstance(detail, str):
                    return status, {"ok": False, "error": detail}, {}
                headers = {"Retry-After": str(int(detail))} if detail is not None else {}
                error = "ratelimited" if status == 429 else "internal_error"
                return status, {"ok": False, "error": error}, headers
        # apps.connections.open is the one method called with the app-level token.
        expected = self.app_token if method == "apps.connections.open" else self.token
        if token != expected:
            call.ok = False
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        body = handler(args) if handler else {"ok": False, "error": "unknown_method"}
        call.ok, call.response = body["ok"], body
        return 200, body, {}

    def _next_ts(self) -> str:
        # Like Slack's: the posting time in microseconds, unique within the workspace.
        with self._ts_lock:
            self._last_ts = max(time.time(), self._last_ts + 1e-6)
            return f"{self._last_ts:.6f}"

    def _auth_test(self, _args: dict) -> dict:
        return {
            "ok": True,
            "url": "https://agency.slack.com/",
            "team": "Agency",
            "user": "account_pulse",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B0PULSEBOT",
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, _args: dict) -> dict:
        if not self.socket_url:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url}

    def _chat_postMessage(self, args: dict) -> dict:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        metadata = args.get("metadata")
        if isinstance(metadata, str):  # form-encoded calls send it as a JSON string
            metadata = json.loads(metadata)
        with self._lock:
            ts = self._next_ts()
            message = {
                "type": "message", "text": args.get("text", ""), "user": self.bot_user_id,
                "bot_id": "B0PULSEBOT", "app_id": "A0PULSEAPP", "ts": ts,
            }
            if args.get("blocks"):
                message["blocks"] = args["blocks"]
            if metadata:
                message["metadata"] = {"event_type": metadata.get("event_type"),
                                       "event_payload": metadata.get("event_payload") or {}}
            thread_ts = args.get("thread_ts")
            if thread_ts:
                message["thread_ts"] = thread_ts
                for parent in self.history.get(channel, []):
                    if parent["ts"] == thread_ts:
                        parent["thread_ts"] = thread_ts
                        parent["reply_count"] = parent.get("reply_count", 0) + 1
            self.history.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    # conversations.history / .replies as Slack answers them: `oldest`/`latest` exclusive unless
    # `inclusive`, `limit` (default 100, at most 999) with `has_more` and an opaque cursor,
    # `metadata` only with `include_all_metadata`. History is top-level messages newest first
    # (thread replies stay in their thread); replies are the parent, then its replies, oldest first.
    def _conversations_history(self, args: dict) -> dict:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        with self._lock:
            top = [m for m in self.history.get(channel, []) if m.get("thread_ts") in (None, m["ts"])]
        return self._page(list(reversed(top)), args, newest_first=True)

    def _conversations_replies(self, args: dict) -> dict:
        channel, thread_ts = args.get("channel"), args.get("ts")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not thread_ts:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            messages = self.history.get(channel, [])
            parent = [m for m in messages if m["ts"] == thread_ts]
            replies = [m for m in messages if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]
        if not parent:
            return {"ok": False, "error": "thread_not_found"}
        body = self._page(replies, args, newest_first=False)
        if body["ok"] and not args.get("cursor"):
            body["messages"].insert(0, self._shown(parent[0], args))
        return body

    @staticmethod
    def _flag(value: Any) -> bool:
        return value is True or str(value).lower() in ("1", "true")

    def _shown(self, message: dict, args: dict) -> dict:
        shown = dict(message)
        if not self._flag(args.get("include_all_metadata")):
            shown.pop("metadata", None)
        return shown

    def _page(self, messages: list[dict], args: dict, newest_first: bool) -> dict:
        try:
            oldest = float(args.get("oldest") or 0)
            latest = float(args["latest"]) if args.get("latest") else float("inf")
            limit = int(args.get("limit") or 100)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        limit = max(1, min(limit, 999))
        inclusive = self._flag(args.get("inclusive"))

        def within(ts: float) -> bool:
            return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

        kept = [m for m in messages if within(float(m["ts"]))]
        cursor = args.get("cursor")
        if cursor:
            try:
                next_ts = float(base64.b64decode(cursor).decode().removeprefix("next_ts:"))
            except (ValueError, UnicodeDecodeError):
                return {"ok": False, "error": "invalid_cursor"}
            kept = [m for m in kept if (float(m["ts"]) <= next_ts if newest_first else float(m["ts"]) >= next_ts)]
        page, rest = kept[:limit], kept[limit:]
        next_cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode() if rest else ""
        return {
            "ok": True,
            "messages": [self._shown(m, args) for m in page],
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _views_open(self, args: dict) -> dict:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        # Slack's limit for a modal: 100 blocks; a trigger id is needed (it expires after 3 s).
        if not isinstance(view, dict) or view.get("type") != "modal" or not args.get("trigger_id") \
                or len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {**view, "id": f"V{len(self.calls):08d}"}}

    def _chat_getPermalink(self, args: dict) -> dict:
        channel, ts = args.get("channel", ""), str(args.get("message_ts", ""))
        return {"ok": True, "channel": channel,
                "permalink": f"https://agency.slack.com/archives/{channel}/p{ts.replace('.', '')}"}

    def _views_publish(self, args: dict) -> dict:
        view = args.get("view")
        if isinstance(view, str):  # form-encoded calls send it as a JSON string
            view = json.loads(view)
        user = args.get("user_id")
        if not isinstance(view, dict) or not user:
            return {"ok": False, "error": "invalid_arguments"}
        # Slack's limit for a Home tab: 100 blocks.
        if view.get("type") != "home" or len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            self.views[user] = view
        return {"ok": True, "view": {"id": f"V{len(self.views):08d}", "type": "home", **view}}

    # Slack's upload flow (files.upload is gone): getUploadURLExternal names a URL and a file id,
    # the client POSTs the bytes there, completeUploadExternal finishes it (shared in a channel
    # only when it names one).
    def _files_getUploadURLExternal(self, args: dict) -> dict:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            file_id = f"F{len(self.files) + 1:08d}"
            self.files[file_id] = {"id": file_id, "name": args["filename"], "length": int(args["length"]),
                                   "content": None, "completed": False, "channel": None}
        port = self._server.port if self._server else 0
        return {"ok": True, "upload_url": f"http://127.0.0.1:{port}/upload/{file_id}", "file_id": file_id}

    def receive_upload(self, file_id: str, content: bytes) -> int:
        with self._lock:
            record = self.files.get(file_id)
            if record is None or record["completed"]:
                return 404
            record["content"] = content
        return 200

    def _files_completeUploadExternal(self, args: dict) -> dict:
        files = args.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        done = []
        with self._lock:
            for item in files or []:
                record = self.files.get(item.get("id", ""))
                if record is None or record["content"] is None or len(record["content"]) != record["length"]:
                    return {"ok": False, "error": "file_not_found"}
                record.update(completed=True, title=item.get("title"), channel=args.get("channel_id"))
                done.append({"id": record["id"], "name": record["name"], "title": item.get("title")})
        return {"ok": True, "files": done}

    def _chat_postEphemeral(self, _args: dict) -> dict:
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, args: dict) -> dict:
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text", "")}

    def _users_info(self, args: dict) -> dict:
        if args.get("user", "") in self.users_info_answers:
            return self.users_info_answers[args["user"]]
        user = self.users.get(args.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        # Slack names the locale only when asked (include_locale=true).
        locale = {"locale": user.locale} if str(args.get("include_locale", "")).lower() in ("1", "true") else {}
        return {
            "ok": True,
            "user": {
                **locale,
                "id": user.id,
                "team_id": user.team_id,
                "name": user.name,
                "is_restricted": user.is_restricted,
                "is_ultra_restricted": user.is_ultra_restricted,
                "is_bot": False,
                "profile": {"email": user.email, "real_name": user.name},
            },
        }

    def _users_lookupByEmail(self, args: dict) -> dict:
        email = str(args.get("email", "")).lower()
        for user in self.users.values():
            if user.email and user.email.lower() == email:
                return self._users_info({"user": user.id})
        return {"ok": False, "error": "users_not_found"}

    def _conversations_info(self, args: dict) -> dict:
        channel = self.channels.get(args.get("channel", ""))
        # Like Slack: a private channel the bot is not in looks the same as one that does not exist.
        if channel is None or (channel.is_private and not channel.is_member):
            return {"ok": False, "error": "channel_not_found"}
        # The fields of the `conversations.info` example in Slack's Web API OpenAPI spec.
        return {
            "ok": True,
            "channel": {
                "id": channel.id, "name": channel.name, "name_normalized": channel.name,
                "created": 1449252889, "creator": "W012A3BCD",
                "is_channel": not channel.is_private, "is_group": channel.is_private, "is_im": False,
                "is_mpim": False, "is_private": channel.is_private, "is_archived": channel.is_archived,
                "is_general": False, "is_read_only": False, "is_member": channel.is_member,
                "is_shared": channel.is_ext_shared, "is_ext_shared": channel.is_ext_shared,
                "is_org_shared": False, "is_pending_ext_shared": False, "pending_shared": [],
                "parent_conversation": None, "unlinked": 0, "locale": "en-US",
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
                "previous_names": [],
            },
        }

    def _conversations_members(self, args: dict) -> dict:
        channel = self.channels.get(args.get("channel", ""))
        if channel is None or (channel.is_private and not channel.is_member):
            return {"ok": False, "error": "channel_not_found"}
        # Paged like Slack: `limit` per page, the cursor opaque (here the offset).
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page = channel.members[start:start + limit]
        more = start + limit < len(channel.members)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _conversations_open(self, args: dict) -> dict:
        users = str(args.get("users", "")).split(",")
        if len(users) != 1 or not users[0]:
            return {"ok": False, "error": "not_implemented"}  # group DMs: the bot never opens one
        user_id = users[0]
        if self.users and user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if user_id == self.bot_user_id:
            return {"ok": False, "error": "cannot_dm_bot"}
        channel_id = self.dm_channel(user_id)
        return {"ok": True, "channel": {"id": channel_id, "is_im": True, "user": user_id}}

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The DM channel id conversations.open gives for `user_id` (read its posts with `posted`)."""
        return "D" + user_id.removeprefix("U").removeprefix("W")

    def _usergroups_users_list(self, args: dict) -> dict:
        members = self.usergroups.get(args.get("usergroup", ""))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": members}


class _Handler(BaseHTTPRequestHandler):
    # Without TCP_NODELAY a reply waits ~40 ms for the client's delayed ACK on loopback.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        fake: FakeSlack = self.server.owner  # type: ignore[attr-defined]
        path, _, query = self.path.partition("?")
        method = path.removeprefix("/api/")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/upload/"):  # the bytes of an upload, to the URL getUploadURLExternal gave
            status = fake.receive_upload(path.removeprefix("/upload/"), raw)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
            return
        content_type = self.headers.get("Content-Type", "")
        args = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        if "json" in content_type:
            args.update(json.loads(raw or b"{}"))
        else:
            args.update({k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()})
            for key in ("blocks", "attachments"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        status, body, headers = fake.handle(method, args, token)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

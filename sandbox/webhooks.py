"""Jira webhook deliveries about the sandbox agency, for `pulse demo`.

Shaped like Jira Cloud's (the real captures in tests/payloads: pinpoint-jira's `comment_created`
and `jira:issue_updated`, zulip's `worklog_created`): an issue moving on, a comment the client may
read, a restricted comment only the agency may, and logged time. The demo POSTs them, signed,
to the real webhook endpoint and lets the real worker turn them into channel messages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.agency import BEN, CHEN
from sandbox.atlassian_server import SITE, AtlassianSeed

# A plain ACME issue: no security level, no internal label (the sandbox restricts ACME-7 and ACME-4).
ISSUE_KEY = "ACME-1"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _trimmed(issue: dict[str, Any]) -> dict[str, Any]:
    # Comment webhooks carry only a few fields of the issue (the worker looks up the rest).
    fields = issue["fields"]
    keep = ("summary", "issuetype", "project", "assignee", "priority", "status")
    return {"id": issue["id"], "self": issue["self"], "key": issue["key"], "fields": {k: fields.get(k) for k in keep}}


def _comment(issue: dict[str, Any], comment_id: str, author: dict, body: str, at: dt.datetime,
             visibility: dict | None = None) -> dict[str, Any]:
    comment: dict[str, Any] = {
        "self": f"{issue['self']}/comment/{comment_id}", "id": comment_id, "author": author, "body": body,
        "updateAuthor": author, "created": _iso(at), "updated": _iso(at), "jsdPublic": visibility is None,
    }
    if visibility is not None:
        comment["visibility"] = visibility
    return {"timestamp": int(at.timestamp() * 1000), "webhookEvent": "comment_created", "comment": comment,
            "issue": _trimmed(issue)}


def sandbox_deliveries(seed: AtlassianSeed, now: dt.datetime) -> list[dict[str, Any]]:
    """Four deliveries about ISSUE_KEY in the minutes before `now`, oldest first."""
    issue = next(i for i in seed.issues if i["key"] == ISSUE_KEY)
    status = issue["fields"]["status"]["name"]
    at = [now - dt.timedelta(minutes=m) for m in (9, 7, 5, 3)]
    moved_on = {
        "timestamp": int(at[0].timestamp() * 1000), "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic", "user": BEN, "issue": issue,
        "changelog": {"id": "90001", "items": [{
            "field": "status", "fieldtype": "jira", "fieldId": "status",
            "from": issue["fields"]["status"]["id"], "fromString": status, "to": "10099", "toString": "In Review",
        }]},
    }
    public = _comment(issue, "70001", BEN, "Der Fix ist auf Staging – bitte einmal als Gast bezahlen und kurz Bescheid geben.", at[1])
    internal = _comment(
        issue, "70002", CHEN, "Ursache: abgelaufene PayPal-Sandbox-Keys; Rotation ist eingeplant, 2 h extra.", at[2],
        visibility={"type": "role", "value": "Developers", "identifier": "Developers"},
    )
    logged = {
        "timestamp": int(at[3].timestamp() * 1000), "webhookEvent": "worklog_created",
        "worklog": {
            "self": f"{SITE}/rest/api/2/issue/{issue['id']}/worklog/60001", "author": BEN, "updateAuthor": BEN,
            "comment": "", "created": _iso(at[3]), "updated": _iso(at[3]), "started": _iso(at[3] - dt.timedelta(hours=1.5)),
            "timeSpent": "1h 30m", "timeSpentSeconds": 5400, "id": "60001", "issueId": issue["id"],
        },
    }
    return [moved_on, public, internal, logged]

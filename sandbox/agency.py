"""The sandbox agency for `pulse demo`, benchmarks and end-to-end tests: three accounts and their Jira/Confluence data.

Everything is deterministic for a given `now` (a seeded `random.Random`, dates relative to `now`),
so a demo run and a test run see the same issues, deadlines and hours. The accounts equal
`config/accounts.example.yaml` (a test keeps the two in step).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from bot.domain.accounts import AccountsConfig
from sandbox.atlassian_server import (
    AtlassianSeed,
    board_json,
    issue_json,
    space_json,
    user_json,
    version_json,
    worklog_json,
)

__all__ = ["Sandbox", "build_sandbox", "sandbox_accounts", "sandbox_seed"]


@dataclass(frozen=True)
class Sandbox:
    """Seed data for FakeAtlassian plus the accounts that point at it."""

    seed: AtlassianSeed
    accounts: AccountsConfig


def sandbox_accounts() -> AccountsConfig:
    """The three sandbox accounts (same as config/accounts.example.yaml)."""
    return AccountsConfig.model_validate(
        {
            "accounts": [
                {
                    "key": "acme-shop",
                    "name": "ACME Shop GmbH",
                    "language": "de",
                    "timezone": "Europe/Berlin",
                    "holidays": "DE-BE",
                    "key_account": True,
                    "handover_client_line": True,
                    "channels": [
                        {"id": "C0ACMECLNT", "name": "#acme-shop", "audience": "client", "digest": {"cron": "0 9 * * mon"}},
                        {
                            "id": "C0ACMEINTL",
                            "name": "#acme-shop-intern",
                            "audience": "internal",
                            "digest": {"cron": "30 8 * * mon-fri"},
                        },
                    ],
                    "jira": {
                        "projects": ["ACME"],
                        "internal_labels": ["internal"],
                        "internal_issue_types": [],
                        "waiting_statuses": ["Waiting for customer"],
                        "deadline_horizon_days": 14,
                    },
                    "confluence": {"space": "ACME"},
                    "budget": {
                        "period": "monthly",
                        "hours": 120,
                        "rate": 110,
                        "currency": "EUR",
                        "thresholds": [80, 100],
                        "show_money_to_client": False,
                    },
                    "roles": {"budget": "U0ACMEAM01", "billing": "U0ACMEBIL1", "backlog": ["U0ACMEPO01", "U0ACMEPO02"],
                              "support": {"people": ["U0ACMESUP1"], "deputy": "U0ACMESUP2"}},
                    "people": {"anna.schmidt@agency.example": "U0ANNA0001"},
                    "support": {
                        "project": "SUP",
                        "match": {"component": "ACME"},
                        "issue_type": "Task",
                        "priority": {"emergency": "Highest", "task": "Medium"},
                        "hours": {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"},
                        "first_response": {"emergency": "1h", "task": "4h"},
                        "escalate_at_percent": 75,
                        "project_work_hours": 16,
                        "mirror_replies": True,
                    },
                },
                {
                    "key": "northwind",
                    "name": "Northwind Traders",
                    "language": "en",
                    "timezone": "America/New_York",
                    "holidays": "US",
                    "channels": [
                        {"id": "C0NWCLIENT", "name": "#northwind", "audience": "client", "digest": {"cron": "0 10 * * mon,thu"}},
                        {
                            "id": "C0NWINTERN",
                            "name": "#northwind-internal",
                            "audience": "internal",
                            "digest": {"cron": "0 9 * * mon-fri"},
                        },
                    ],
                    "jira": {"projects": ["NW"], "internal_labels": ["internal", "agency-only"]},
                    "budget": {
                        "period": "project",
                        "start": "2026-09-01",
                        "end": "2027-01-31",
                        "hours": 600,
                        "rate": 140,
                        "currency": "USD",
                        "thresholds": [50, 80, 100],
                        "show_money_to_client": True,
                    },
                    "roles": {"budget": "U0NWAM0001", "support": "U0NWSUP001"},
                },
                {
                    "key": "globex",
                    "name": "Globex Corporation",
                    "language": "en",
                    "timezone": "Europe/London",
                    "holidays": "GB-ENG",
                    "channels": [
                        {"id": "C0GLXCLNT1", "name": "#globex-support", "audience": "client"},
                        {"id": "C0GLXINTL1", "name": "#globex-team", "audience": "internal", "digest": {"cron": "0 8 * * mon"}},
                    ],
                    "jira": {"projects": ["GLX"], "internal_issue_types": ["Incident Review"]},
                    "budget": {"period": "monthly", "hours": 40, "currency": "GBP"},
                    "roles": {"support": "U0GLXSUP01"},
                    "support": {"project": "SUP", "match": {"component": "GLOBEX"},
                                "first_response": {"emergency": "30m", "task": "8h"}},
                },
            ]
        }
    )


# The agency's people (Jira Cloud users); Anna is mapped to Slack in the accounts file.
ANNA = user_json("712020:4f1c-anna", "Anna Schmidt", "anna.schmidt@agency.example")
BEN = user_json("712020:7a2e-ben", "Ben Carter", "ben.carter@agency.example")
CHEN = user_json("712020:9c3d-chen", "Chen Wei", "chen.wei@agency.example")
DANA = user_json("712020:1b5f-dana", "Dana Ivanova", "dana.ivanova@agency.example")
CLIENT_NW = user_json("557058:nw-olivia", "Olivia Park", None)
AGENCY = (ANNA, BEN, CHEN, DANA)

_SUMMARIES = {
    "ACME": [
        "Checkout: PayPal-Zahlung schlägt bei Gastkunden fehl",
        "Black-Friday-Banner auf der Startseite",
        "Produktfilter nach Größe und Farbe",
        "Versandkostenrechner für Österreich und Schweiz",
        "Newsletter-Anmeldung mit Double-Opt-in",
        "Ladezeit der Kategorieseiten verbessern",
        "Gutscheincodes im Warenkorb",
        "Rechnungs-PDF mit neuer Steuernummer",
        "Suchvorschläge mit Tippfehler-Toleranz",
        "Retourenportal: Etikett als PDF",
        "Cookie-Banner gemäß TTDSG anpassen",
        "Lagerbestand-Sync mit der Warenwirtschaft",
    ],
    "NW": [
        "Supplier portal: bulk CSV import",
        "Order history export to Excel",
        "SSO with Azure AD",
        "Dashboard: revenue by region widget",
        "Rate limiting on the public API",
        "Invoice reminders by email",
        "Audit log for price changes",
        "Mobile layout for the order form",
        "Onboarding checklist for new suppliers",
        "Currency conversion for EU orders",
    ],
    "GLX": [
        "Login page returns 502 under load",
        "Password reset email lands in spam",
        "Nightly backup job exceeds window",
        "Upgrade PostgreSQL to 16",
        "Broken links in the help centre",
        "Monitoring: alert on disk usage",
        "Customer cannot download statements",
        "TLS certificate renewal automation",
    ],
}
_STATUSES = [
    ("To Do", "new"),
    ("In Progress", "indeterminate"),
    ("In Review", "indeterminate"),
    ("Waiting for customer", "indeterminate"),
    ("Done", "done"),
]


@dataclass(frozen=True)
class _Project:
    key: str
    project_id: str
    name: str
    issue_count: int
    first_issue_id: int
    internal_label: str
    issue_types: tuple[str, ...]
    # Worklogs per started issue (at most) and their lengths: tuned so that by the 3rd week of
    # a month ACME is past 80 % of its retainer and Globex near its small one.
    max_logs: int = 4
    durations: tuple[int, ...] = (900, 1800, 3600, 5400, 7200)


_PROJECTS = (
    _Project("ACME", "10000", "ACME Shop", 48, 10100, "internal", ("Task", "Bug", "Story"), 6),
    _Project("NW", "10001", "Northwind Portal", 40, 20100, "agency-only", ("Story", "Task", "Bug"), 4),
    _Project("GLX", "10002", "Globex Support", 32, 30100, "internal", ("Bug", "Task", "Incident Review"), 3, (900, 1800, 2700)),
)


def _versions(project: _Project, today: dt.date) -> list[dict[str, Any]]:
    pid = int(project.project_id)
    base = int(project.project_id) * 10
    if project.key == "ACME":
        return [
            version_json(str(base + 1), "2026.10 Herbst", pid, release_date=today - dt.timedelta(days=10), released=True),
            # Due in 5 days with open work: the "at risk" milestone.
            version_json(str(base + 2), "Black Friday", pid, release_date=today + dt.timedelta(days=5), start_date=today - dt.timedelta(days=30)),
            version_json(str(base + 3), "2027.01", pid, release_date=today + dt.timedelta(days=60)),
        ]
    if project.key == "NW":
        return [
            version_json(str(base + 1), "MVP", pid, release_date=today - dt.timedelta(days=20), released=True),
            version_json(str(base + 2), "Phase 2", pid, release_date=today + dt.timedelta(days=12), description="Supplier self-service"),
        ]
    return [
        version_json(str(base + 1), "Support 2026.10", pid, release_date=today - dt.timedelta(days=5), released=True),
        version_json(str(base + 2), "Q4 Hardening", pid, release_date=today + dt.timedelta(days=9)),
        version_json(str(base + 3), "Legacy cleanup", pid, archived=True),
    ]


def _month_start(now: dt.datetime) -> dt.datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _random_between(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    span = max(60, int((end - start).total_seconds()))
    moment = start + dt.timedelta(seconds=rng.randrange(span))
    # Jira stores worklog starts to the minute.
    return moment.replace(second=0, microsecond=0)


def sandbox_seed(now: dt.datetime) -> AtlassianSeed:
    """Issues, versions, worklogs (this and last month), boards and Confluence spaces, relative to `now`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(dt.UTC)
    today = now.date()
    rng = random.Random(f"account-pulse-sandbox-{today.isoformat()}")
    this_month = _month_start(now)
    last_month = _month_start(this_month - dt.timedelta(days=1))
    seed = AtlassianSeed()
    worklog_id = 50000

    for project in _PROJECTS:
        versions = _versions(project, today)
        seed.versions[project.key] = versions
        released, at_risk, later = versions[0], versions[1], versions[2] if len(versions) > 2 else None
        summaries = _SUMMARIES[project.key]
        for n in range(1, project.issue_count + 1):
            key = f"{project.key}-{n}"
            issue_id = str(project.first_issue_id + n)
            status, category = _STATUSES[(n * 7 + len(project.key)) % len(_STATUSES)]
            created = now - dt.timedelta(days=rng.randint(20, 120), hours=rng.randint(0, 23))
            if n % 8 == 5:
                # New requirements this week, so a digest has something under "new since".
                created = now - dt.timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 23))
            resolved = None
            if category == "done":
                resolved = min(now - dt.timedelta(hours=2), created + dt.timedelta(days=rng.randint(2, 30)))
            due = None
            bucket = n % 6
            if category != "done":
                if bucket == 0:
                    due = today - dt.timedelta(days=rng.randint(1, 9))  # overdue
                elif bucket in (1, 2):
                    due = today + dt.timedelta(days=rng.randint(1, 7))  # due soon
                elif bucket == 3:
                    due = today + dt.timedelta(days=rng.randint(15, 45))
            elif bucket == 0:
                due = (resolved or now).date() + dt.timedelta(days=1)
            fix: list[dict[str, Any]] = []
            if category == "done" and n % 3 == 0:
                fix = [released]
            elif n % 4 in (1, 2):
                fix = [at_risk]
            elif later is not None and n % 4 == 3 and not later.get("archived"):
                fix = [later]
            labels = [project.internal_label] if n % 9 == 4 else []
            if n % 5 == 0:
                labels.append("frontend" if project.key != "GLX" else "ops")
            issue_type = project.issue_types[n % len(project.issue_types)]
            assignee = AGENCY[(n + len(project.key)) % len(AGENCY)] if n % 8 else None
            estimate = (rng.randint(1, 16) * 3600) if n % 3 else None
            seed.issues.append(
                issue_json(
                    issue_id,
                    key,
                    summaries[(n - 1) % len(summaries)] + ("" if n <= len(summaries) else f" ({(n - 1) // len(summaries) + 1})"),
                    project_id=project.project_id,
                    project_name=project.name,
                    created=created,
                    issue_type=issue_type,
                    status=status,
                    status_category=category,  # type: ignore[arg-type]
                    resolved=resolved,
                    due=due,
                    assignee=assignee,
                    reporter=CLIENT_NW if project.key == "NW" else ANNA,
                    priority=("High", "Medium", "Medium", "Low", "Highest")[n % 5],
                    labels=labels,
                    # One issue per project is restricted by a security level.
                    security="Agency only" if n == 7 else None,
                    fix_versions=fix,
                    original_estimate_seconds=estimate,
                )
            )
            # Worklogs on started work: this month and last month (one ACME issue gets 26, more
            # than the 20 a search embeds, so the follow-up path is exercised).
            if category == "new":
                continue
            count = 26 if key == "ACME-2" else rng.randint(1, project.max_logs)
            logs = []
            for i in range(count):
                window = (this_month, now - dt.timedelta(minutes=30)) if i % 2 == 0 else (last_month, this_month)
                start = max(window[0], created)
                if start >= window[1]:
                    continue
                started = _random_between(rng, start, window[1])
                worklog_id += 1
                logs.append(
                    worklog_json(
                        str(worklog_id),
                        issue_id,
                        started,
                        rng.choice(project.durations),
                        assignee or AGENCY[i % len(AGENCY)],
                    )
                )
            logs.sort(key=lambda w: w["started"])
            if logs:
                seed.worklogs[key] = logs
                # Jira keeps the sum itself; store it so the seed reads the same with or without the fake.
                seed.issues[-1]["fields"]["timespent"] = sum(w["timeSpentSeconds"] for w in logs)

    # One scrum board per project, for sprint webhooks (they name only the board). ACME's is
    # board 81, the board of the real sprint payloads in pinpoint-jira's fixtures.
    seed.boards = [
        board_json(81 + i, f"{project.key} board", {"id": project.project_id, "key": project.key, "name": project.name})
        for i, project in enumerate(_PROJECTS)
    ]
    seed.spaces = [
        space_json("98305", "ACME", "ACME Shop", "98306"),
        space_json("131073", "NW", "Northwind", "131074"),
        space_json("163841", "GLX", "Globex", "163842"),
    ]
    seed.pages = [
        _home_page("98306", "98305", "ACME Shop Startseite"),
        _home_page("131074", "131073", "Northwind Home"),
        _home_page("163842", "163841", "Globex Home"),
    ]
    return seed


def _home_page(page_id: str, space_id: str, title: str) -> dict[str, Any]:
    stamp = "2025-01-06T09:00:00.000Z"
    return {
        "id": page_id,
        "status": "current",
        "title": title,
        "spaceId": space_id,
        "parentId": None,
        "parentType": None,
        "position": None,
        "authorId": "712020:4f1c-anna",
        "ownerId": "712020:4f1c-anna",
        "createdAt": stamp,
        "version": {"createdAt": stamp, "message": "", "number": 1, "minorEdit": False, "authorId": "712020:4f1c-anna"},
        "body": {"storage": {"representation": "storage", "value": f"<h1>{title}</h1>"}},
    }


def build_sandbox(now: dt.datetime) -> Sandbox:
    """The whole sandbox agency for `now`: serve `seed` with FakeAtlassian, use `accounts`."""
    return Sandbox(seed=sandbox_seed(now), accounts=sandbox_accounts())

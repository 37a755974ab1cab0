"""What an account is: its channels and audiences, Jira/Confluence scope, budget, people, schedules.

Plain pydantic models, validated once when the accounts file is loaded (see ``bot.accounts_file``).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.domain.calendar import check_calendar
from bot.domain.schedule import CRON_EXAMPLE, cron_problem


class Audience(enum.StrEnum):
    """Who reads a channel: the client (possibly Slack Connect) or the agency only."""

    CLIENT = "client"
    INTERNAL = "internal"


class _Model(BaseModel):
    # Typos in the accounts file must fail loudly instead of being silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DigestSchedule(_Model):
    """When a channel gets its digest: a 5-field crontab in the account's timezone."""

    cron: str = Field(description="crontab: minute hour day month weekday, e.g. '0 9 * * mon'")
    # Bounded: a week is longer than any digest is worth posting late (and keeps date math finite).
    grace_minutes: int = Field(default=180, ge=0, le=7 * 24 * 60, description="post a missed slot this late at most")

    @field_validator("cron")
    @classmethod
    def _scheduler_can_read_it(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem:
            raise ValueError(f"{problem}; e.g. {CRON_EXAMPLE}")
        return value


def _slack_id_case_hint(value: str, pattern: str) -> str:
    """' (Slack ids are upper case: write U0ABC)' when only the case is wrong."""
    # Real ids always hold digits: 'general' is a name, not an id in the wrong case.
    if value != value.upper() and re.search(r"\d", value) and re.fullmatch(pattern, value.upper()):
        return f"; Slack ids are upper case: write {value.upper()}"
    return ""


# A channel link as Slack's "Copy link" gives it (a message link adds /p<timestamp>), or the web
# client's address: the channel id is in it.
_CHANNEL_LINK = re.compile(
    r"https://[\w.-]+\.slack\.com/(?:archives|client/[A-Z0-9]+)/([A-Za-z0-9]+)(?:/p\d+)?/?(?:[?#].*)?"
)
_CHANNEL_ID = r"[CGD][A-Z0-9]{6,}"
_USER_ID = r"[UW][A-Z0-9]{6,}"
_USERGROUP_ID = r"S[A-Z0-9]{6,}"


class Channel(_Model):
    """A Slack channel linked to the account."""

    id: str = Field(description="Slack channel id, e.g. C0123ABCD")
    audience: Audience
    name: str | None = None
    digest: DigestSchedule | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_from_link(cls, value: object) -> object:
        link = _CHANNEL_LINK.fullmatch(value.strip()) if isinstance(value, str) else None
        return link.group(1) if link else value

    @field_validator("id")
    @classmethod
    def _slack_channel_id(cls, value: str) -> str:
        if not re.fullmatch(_CHANNEL_ID, value):
            hint = _slack_id_case_hint(value, _CHANNEL_ID)
            if not hint:
                named = " (not a #name)" if value.startswith("#") or not re.search(r"\d", value) else ""
                hint = f"{named}; in Slack: channel name → About → Channel ID at the bottom, or paste the channel's link"
            raise ValueError(f"{value!r} is not a Slack channel id like C0123ABCD{hint}")
        return value


class JiraScope(_Model):
    """Which Jira work belongs to the account, and which of it is internal."""

    projects: list[str] = Field(default_factory=list)
    jql: str | None = Field(default=None, description="extra JQL, ANDed with the projects")
    internal_labels: list[str] = Field(default_factory=lambda: ["internal"])
    internal_issue_types: list[str] = Field(default_factory=list)
    waiting_statuses: list[str] = Field(default_factory=lambda: ["Waiting for customer"])
    client_users: list[str] = Field(default_factory=list, description="Jira account ids of client people")
    deadline_horizon_days: int = Field(default=14, ge=1, le=365)

    @field_validator("projects")
    @classmethod
    def _project_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,19}", key):
                raise ValueError(f"{key!r} is not a Jira project key (upper case, e.g. ACME)")
        return value

    @field_validator("jql")
    @classmethod
    def _no_order_by(cls, value: str | None) -> str | None:
        if value and re.search(r"\border\s+by\b", value, re.IGNORECASE):
            raise ValueError("leave out ORDER BY: the bot ANDs this JQL with its own queries")
        return value

    @model_validator(mode="after")
    def _some_scope(self) -> JiraScope:
        if not self.projects and not self.jql:
            raise ValueError("give at least one of 'projects' or 'jql'")
        return self

    def scope_jql(self) -> str:
        """The JQL that selects all of the account's issues."""
        parts = []
        if self.projects:
            parts.append("project in (" + ", ".join(self.projects) + ")")
        if self.jql:
            parts.append(f"({self.jql})")
        return " AND ".join(parts)


class ConfluenceScope(_Model):
    space: str
    status_page_parent_id: str | None = Field(
        default=None, description="publish digests as child pages of this page"
    )
    # Handover pages are internal (open issues the client view withholds, the budget, notes): they
    # go to a space of the agency's own, never to the account's space, whose pages may reach the
    # client (its webhooks feed client channels). Both are needed; either alone is refused.
    handover_space: str | None = Field(
        default=None, description="the agency's own Confluence space (key) for handover pages; not a client's space"
    )
    handover_parent: str | None = Field(
        default=None, description="id of the page in handover_space under which each handover gets its page"
    )

    @field_validator("handover_parent", mode="before")
    @classmethod
    def _page_id(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and (not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,20}", value)):
            raise ValueError(f"{value!r} is not a Confluence page id (the digits in the page's URL: …/pages/123456/…)")
        return value

    @field_validator("handover_space")
    @classmethod
    def _space_key(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"~?[A-Za-z0-9_]+", value):
            raise ValueError(f"{value!r} is not a Confluence space key")
        return value

    @model_validator(mode="after")
    def _handover_page_place(self) -> ConfluenceScope:
        if (self.handover_space is None) != (self.handover_parent is None):
            raise ValueError("handover pages need both handover_space (the agency's own space) and "
                             "handover_parent (a page id in it)")
        if self.handover_space is not None and self.handover_space == self.space:
            raise ValueError(f"handover_space {self.handover_space} is the account's own space, whose pages may reach "
                             "the client: handover pages are internal, name a space of the agency's own")
        return self

    @property
    def handover_pages(self) -> bool:
        """Whether handovers of the account get a Confluence page."""
        return self.handover_space is not None and self.handover_parent is not None


class Budget(_Model):
    """How much work the client bought, and who may see money."""

    period: Literal["monthly", "project"] = "monthly"
    start: dt.date | None = None
    end: dt.date | None = None
    # Upper bounds only keep the budget math finite; no real budget comes near them.
    hours: Decimal | None = Field(default=None, gt=0, le=1_000_000)
    rate: Decimal | None = Field(default=None, ge=0, le=100_000_000, description="price of one hour")
    currency: str = "EUR"
    thresholds: list[int] = Field(default_factory=lambda: [80, 100])
    show_money_to_client: bool = False
    alert_client: bool = False

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("must be an ISO 4217 code like EUR or USD")
        return value

    @field_validator("thresholds")
    @classmethod
    def _percentages(cls, value: list[int]) -> list[int]:
        if any(t <= 0 or t > 1000 for t in value):
            raise ValueError("thresholds are percentages between 1 and 1000")
        return sorted(set(value))

    @model_validator(mode="after")
    def _consistent(self) -> Budget:
        if self.period == "project" and (self.start is None or self.end is None):
            raise ValueError("a project budget needs 'start' and 'end' dates")
        if self.start and self.end and self.end < self.start:
            raise ValueError("'end' is before 'start'")
        if self.hours is None and self.rate is None:
            raise ValueError("give 'hours' (and optionally 'rate')")
        return self


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?")


def parse_duration_minutes(value: object) -> int:
    """Minutes from `90` (minutes), `"1h"`, `"1h30m"`, `"2d"` (24-hour days); ValueError saying how to write it."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. 1h, 30m or 1h30m")
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, str) and value.strip() and (m := _DURATION.fullmatch(value.strip().lower())) and any(m.groups()):
        days, hours, mins = (int(g) if g else 0 for g in m.groups())
        minutes = days * 24 * 60 + hours * 60 + mins
    else:
        raise ValueError(f"{value!r} is not a duration; write e.g. 1h, 30m or 1h30m")
    if not 1 <= minutes <= 90 * 24 * 60:
        raise ValueError(f"{value!r}: a first-response target is between 1 minute and 90 days")
    return minutes


class Urgency(enum.StrEnum):
    """How urgent a support request is, in words the client knows and accepts."""

    EMERGENCY = "emergency"  # the site is down or customers cannot buy: around the clock
    TASK = "task"  # everything else: in business hours


class BusinessHours(_Model):
    """When the agency's support clock runs for tasks (emergencies run around the clock)."""

    weekdays: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(17, 0)
    timezone: str | None = Field(default=None, description="IANA timezone; default: the account's")

    @field_validator("weekdays")
    @classmethod
    def _weekday_names(cls, value: list[str]) -> list[str]:
        days = [d.strip().lower()[:3] for d in value]
        wrong = [v for v, d in zip(value, days, strict=True) if d not in _WEEKDAYS]
        if wrong:
            raise ValueError(f"{wrong[0]!r} is not a weekday; write mon, tue, wed, thu, fri, sat, sun")
        if not days:
            raise ValueError("give at least one weekday")
        return sorted(set(days), key=_WEEKDAYS.index)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 9:00 as the sexagesimal number 540.
            return dt.time(*divmod(value, 60)) if 0 <= value < 24 * 60 else value
        return value

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not an IANA timezone (e.g. Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError(f"'end' ({self.end:%H:%M}) must be after 'start' ({self.start:%H:%M}) on the same day")
        return self

    def weekday_numbers(self) -> frozenset[int]:
        return frozenset(_WEEKDAYS.index(d) for d in self.weekdays)


class PerUrgency(_Model):
    emergency: str
    task: str


class FirstResponse(_Model):
    """First-response targets: an emergency around the clock, a task in business hours."""

    emergency: int = Field(default=60, description="minutes, or 1h / 30m / 1h30m")
    task: int = Field(default=8 * 60, description="business minutes, or 8h / 4h30m")

    @field_validator("emergency", "task", mode="before")
    @classmethod
    def _duration(cls, value: object) -> int:
        return parse_duration_minutes(value)

    def minutes(self, urgency: Urgency) -> int:
        return self.emergency if urgency is Urgency.EMERGENCY else self.task


class SupportMatch(_Model):
    """How this account's issues are told apart in a support project shared with other accounts."""

    component: str | None = None
    label: str | None = None
    organization: str | None = Field(default=None, description="Service Desk organization id")
    organization_field: str | None = Field(
        default=None,
        description="the site's Organizations field, e.g. customfield_10002 (default: the one Jira's field list names)",
    )

    @field_validator("organization")
    @classmethod
    def _organization_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+", str(value)):
            raise ValueError(f"{value!r} is not a Service Desk organization id (digits, e.g. 3)")
        return value

    @field_validator("organization_field")
    @classmethod
    def _custom_field(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"customfield_\d+", value):
            raise ValueError(f"{value!r} is not a custom field id like customfield_10002")
        return value

    @field_validator("label")
    @classmethod
    def _jira_label(cls, value: str | None) -> str | None:
        return None if value is None else _check_label(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> SupportMatch:
        given = [name for name in ("component", "label", "organization") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of 'component', 'label' or 'organization'")
        return self

    def describe(self) -> str:
        if self.component:
            return f"component {self.component!r}"
        if self.label:
            return f"label {self.label!r}"
        return f"organization {self.organization}"


def _check_label(value: str) -> str:
    # Jira labels cannot hold spaces; a label with one would never match.
    if not re.fullmatch(r"[^\s]{1,255}", value):
        raise ValueError(f"{value!r} is not a Jira label (no spaces, at most 255 characters)")
    return value


class Support(_Model):
    """Support requests from Slack: where they are filed in Jira and how fast they are answered."""

    project: str = Field(description="Jira project key requests are filed in")
    issue_type: str = "Task"
    priority: PerUrgency = Field(default_factory=lambda: PerUrgency(emergency="Highest", task="Medium"))
    label: str = Field(default="pulse-support", description="every request's issue carries it")
    match: SupportMatch | None = Field(default=None, description="needed when accounts share the project")
    hours: BusinessHours = Field(default_factory=BusinessHours)
    first_response: FirstResponse = Field(default_factory=FirstResponse)
    waiting_statuses: list[str] | None = Field(
        default=None, description="the clock pauses in these statuses; default: jira.waiting_statuses"
    )
    escalate_at_percent: int = Field(default=75, ge=1, le=100, description="ping the support role at this share")
    project_work_hours: Decimal | None = Field(
        default=None, gt=0, le=100_000, description="an estimate above this is project work, not support"
    )
    project_work_labels: list[str] = Field(default_factory=list, description="labels that mark project work")
    mirror_replies: bool = Field(default=False, description="thread replies become public Jira comments")
    agency_jira_users: list[str] = Field(
        default_factory=list,
        description="Jira Server/Data Center user keys (e.g. JIRAUSER10100) of the agency's people: their public "
                    "comments are first responses (Server payloads name no accountType; default: none do)",
    )

    @field_validator("project")
    @classmethod
    def _project_key(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,19}", value):
            raise ValueError(f"{value!r} is not a Jira project key (upper case, e.g. SUP)")
        return value

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        return _check_label(value)

    @field_validator("project_work_labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        return [_check_label(v) for v in value]

    @field_validator("agency_jira_users")
    @classmethod
    def _user_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not key.strip() or key != key.strip() or "@" in key:
                raise ValueError(f"{key!r} is not a Jira user key (e.g. JIRAUSER10100; not an email address)")
        return value


def check_slack_person(value: str) -> str:
    """A Slack user id (U…/W…) or user group id (S…), else a ValueError saying where to find one."""
    if re.fullmatch(_USER_ID, value) or re.fullmatch(_USERGROUP_ID, value):
        return value
    hint = _slack_id_case_hint(value, _USER_ID) or _slack_id_case_hint(value, _USERGROUP_ID)
    if not hint:
        hint = ", not a channel" if re.fullmatch(_CHANNEL_ID, value) else ", not a name"
    raise ValueError(f"{value!r} is not a Slack user id (U… or W…: profile → ⋮ → Copy member ID) or user group id (S…){hint}")


# What each role is for. Every role is shown by `/pulse roles` and passes to the cover during a
# handover (bot.domain.roles); check-config says what else uses it.
ROLE_USES: dict[str, str] = {
    "budget": "named (cc) under the budget line of internal digests and in budget threshold alerts (the cover "
              "during a handover); told by DM and named in the internal channel when the budget gets worse (runs "
              "out earlier, a threshold crossed, used up); shown by /pulse roles and to the client by @Account Pulse who",
    "billing": "shown by /pulse roles; passes to the cover during a handover",
    "backlog": "shown by /pulse roles and to the client by @Account Pulse who; passes to the cover during a handover; "
               "told by DM and named in the internal channel when a milestone becomes at risk or slips, or overdue "
               "issues, items waiting for the client or a quiet spell get worse; pinged in a support request's "
               "thread when the request turns out to be project work",
    "support": "shown by /pulse roles and to the client by @Account Pulse who; passes to the cover during a handover; "
               "pinged when a support request nears its first-response target, and by DM at once for emergencies; "
               "told by DM and named in the internal channel when requests pass their first-response target",
}
ROLE_NAMES: tuple[str, ...] = tuple(ROLE_USES)

# Never more: a role is a few people, not a department (and it keeps mentions short).
MAX_ROLE_PEOPLE = 10


class Role(_Model):
    """One role, normalized: the people who hold it (in the file's order) and an optional standing deputy.

    The accounts file may write a role three ways (see `Roles`); `Roles.of(name)` always gives this form.
    """

    people: tuple[str, ...]
    deputy: str | None = None


def _role_problem(value: object) -> str | None:
    """What is wrong with a role written as a list or a mapping (None: nothing)."""
    def ids(items: object, where: str) -> str | None:
        label = f"{where}: " if where else ""
        if not isinstance(items, list) or not items:
            return f"{label}give one or more Slack user ids, e.g. [U0ANA0001, U0BEN0001]"
        if len(items) > MAX_ROLE_PEOPLE:
            return f"{label}at most {MAX_ROLE_PEOPLE} people hold one role"
        for i, item in enumerate(items):
            try:
                check_slack_person(item if isinstance(item, str) else repr(item))
            except ValueError as exc:
                return f"{where}[{i}]: {exc}"
        if len(set(items)) != len(items):
            return f"{label}someone is listed twice"
        return None

    if isinstance(value, list):
        return ids(value, "")
    if not isinstance(value, dict):
        return "give a Slack user id (U0ANA0001), a list of them, or {people: [U…], deputy: U…}"
    unknown = sorted(str(k) for k in value if k not in ("people", "deputy"))
    if unknown:
        return f"unknown key {unknown[0]!r}; a role with a deputy is written {{people: [U…], deputy: U…}}"
    people = value.get("people")
    people = [people] if isinstance(people, str) else people
    problem = ids(people, "people")
    if problem or not isinstance(people, list):
        return problem
    deputy = value.get("deputy")
    if deputy is not None:
        try:
            check_slack_person(deputy if isinstance(deputy, str) else repr(deputy))
        except ValueError as exc:
            return f"deputy: {exc}"
        if deputy in people:
            return f"deputy: {deputy} already holds the role; the deputy is someone else"
    return None


class Roles(_Model):
    """Who speaks for what (see ROLE_USES), as Slack user ids (or user group ids).

    Each role may be written as one id (`budget: U0ANA0001`), a list (`backlog: [U0ANA0001, U0BEN0001]`)
    or people with a standing deputy (`support: {people: [U0ANA0001], deputy: U0CEM0001}`). The fields
    keep what was written; read a role through `of(name)`, or who holds it today through
    `bot.domain.roles.holders` (which applies handovers).
    """

    budget: str | list[str] | Role | None = None
    billing: str | list[str] | Role | None = None
    backlog: str | list[str] | Role | None = None
    support: str | list[str] | Role | None = None

    @field_validator("budget", "billing", "backlog", "support", mode="before")
    @classmethod
    def _role_shape(cls, value: object) -> object:
        if value is None or isinstance(value, Role):
            return value
        if isinstance(value, str):
            return check_slack_person(value)
        problem = _role_problem(value)
        if problem:
            raise ValueError(problem)
        if isinstance(value, dict):
            people = value["people"]
            return Role(people=tuple([people] if isinstance(people, str) else people), deputy=value.get("deputy"))
        return value

    def of(self, name: str) -> Role | None:
        """The role `name` (one of ROLE_NAMES) in its normalized form, or None if the account names nobody."""
        value = getattr(self, name)
        if value is None or isinstance(value, Role):
            return value
        return Role(people=(value,) if isinstance(value, str) else tuple(value))

    def given(self) -> dict[str, Role]:
        """Every role the account names, by name, in ROLE_NAMES order."""
        return {name: role for name in ROLE_NAMES if (role := self.of(name)) is not None}



class HealthThresholds(_Model):
    """When an account's health says "watch" or "at risk" (the portfolio's verdict, see
    `bot.domain.portfolio`). Each pair is (watch, at risk); the defaults suit a monthly budget."""

    # A budget that runs out before its period ends is "watch"; "at risk" when its use is this
    # many percentage points ahead of the period's working days elapsed (or it is used up).
    budget_ahead_risk: int = Field(default=15, ge=1, le=1000)
    # A milestone behind its pace is "at risk" when due within this many days, else "watch".
    milestone_risk_days: int = Field(default=14, ge=0, le=365)
    overdue_watch: int = Field(default=1, ge=1, le=10_000)
    overdue_risk: int = Field(default=5, ge=1, le=10_000)
    # Items waiting for the client: the client's to do, so "watch" at most.
    waiting_watch: int = Field(default=3, ge=1, le=10_000)
    # Days without anything the client can see happen (an issue created or done, public time logged).
    quiet_watch_days: int = Field(default=7, ge=1, le=365)
    quiet_risk_days: int = Field(default=14, ge=1, le=365)

    @model_validator(mode="after")
    def _watch_before_risk(self) -> HealthThresholds:
        for watch_field, risk_field in (("overdue_watch", "overdue_risk"), ("quiet_watch_days", "quiet_risk_days")):
            if getattr(self, watch_field) > getattr(self, risk_field):
                raise ValueError(f"{watch_field} ({getattr(self, watch_field)}) is above {risk_field} "
                                 f"({getattr(self, risk_field)}): watch comes before at risk")
        return self


class Account(_Model):
    """One client account and everything Account Pulse knows about it."""

    key: str
    name: str
    language: Literal["de", "en", "ru"] = "en"
    timezone: str
    channels: list[Channel]
    jira: JiraScope
    confluence: ConfluenceScope | None = None
    budget: Budget | None = None
    roles: Roles = Field(default_factory=Roles)
    people: dict[str, str] = Field(
        default_factory=dict, description="Jira email or account id -> Slack user id"
    )
    holidays: str | None = Field(
        None, description="public holidays that are not working days: a country (DE) or country-state (DE-BE)"
    )
    handover_client_line: bool = Field(
        default=False,
        description="when a handover starts, tell the client channel who is the contact for what until when",
    )
    # A key account: marked in the portfolio and listed first among equals (`/pulse accounts key`).
    key_account: bool = False
    health: HealthThresholds = Field(default_factory=HealthThresholds)
    # None: the account files no support requests (the bot says so when asked).
    support: Support | None = None

    @field_validator("people")
    @classmethod
    def _people_are_slack_users(cls, value: dict[str, str]) -> dict[str, str]:
        for who, slack_id in value.items():
            if not re.fullmatch(_USER_ID, slack_id):
                hint = _slack_id_case_hint(slack_id, _USER_ID) or " (U… or W…: profile → ⋮ → Copy member ID)"
                raise ValueError(f"{who}: {slack_id!r} is not a Slack user id{hint}")
        return value

    @field_validator("holidays", mode="before")
    @classmethod
    def _holiday_code_is_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            # YAML reads NO (Norway), ON or 49 as something else than text.
            raise ValueError(f'write the calendar code in quotes, e.g. holidays: "NO" (it was read as {value!r})')
        return value

    @field_validator("holidays")
    @classmethod
    def _holiday_calendar(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_calendar(value)
        return value

    @field_validator("key")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", value):
            raise ValueError("must be lower case letters, digits and '-' (e.g. acme-shop)")
        return value

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA timezone (e.g. Europe/Berlin)") from None
        return value

    @field_validator("channels")
    @classmethod
    def _has_channels(cls, value: list[Channel]) -> list[Channel]:
        if not value:
            raise ValueError("link at least one channel")
        return value

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def channel(self, channel_id: str) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)


class AccountsConfig(_Model):
    """The top level of the accounts file."""

    accounts: list[Account]

    @model_validator(mode="after")
    def _unique(self) -> AccountsConfig:
        conflicts = self._conflicts()
        if conflicts:
            # One error carrying every conflict with the places of both occurrences (`conflicts`
            # in the error context): the accounts-file loader reports each at its own lines.
            raise PydanticCustomError(
                "accounts_conflict", "{summary}",
                {"summary": "; ".join(message for message, _ in conflicts), "conflicts": conflicts},
            )
        return self

    def _conflicts(self) -> list[tuple[str, list[tuple[str | int, ...]]]]:
        """(message, field paths of every occurrence) for what two accounts may not share."""
        conflicts: list[tuple[str, list[tuple[str | int, ...]]]] = []
        first: dict[tuple[str, str], tuple[str, tuple[str | int, ...]]] = {}  # (kind, what) -> (account, path)

        def claim(what: str, account: Account, path: tuple[str | int, ...], message: Callable[[str], str]) -> None:
            other, other_path = first.setdefault((what.split()[0], what), (account.key, path))
            if other_path != path:
                twice = other == account.key and not what.startswith("account")
                conflicts.append((f"{what} is listed twice in {other!r}" if twice else message(other), [other_path, path]))

        # (B023 below: `claim` calls each message at once, inside this iteration.)
        for i, account in enumerate(self.accounts):
            here = ("accounts", i)
            claim(f"account key {account.key!r}", account, (*here, "key"),
                  lambda _: f"account key {account.key!r} is used twice")  # noqa: B023 (called at once)
            # Webhooks are routed by project key and space: a project shared by two accounts
            # would send one client's events to the other client's channels — unless each of
            # them narrows it by JQL, which the worker checks with Jira for every issue
            # (`scope_notes` tells check-config's reader so).
            for j, project in enumerate(account.jira.projects):
                if account.jira.jql and all(a.jira.jql for a in self.accounts if project in a.jira.projects):
                    continue
                claim(f"Jira project {project}", account, (*here, "jira", "projects", j),
                      lambda other: f"Jira project {project} belongs to both {other!r} and {account.key!r}; "  # noqa: B023
                      "split it into two projects, or narrow it in each account by jql")
            if account.confluence is not None:
                space = account.confluence.space
                claim(f"Confluence space {space}", account, (*here, "confluence", "space"),
                      lambda other: f"Confluence space {space} belongs to both {other!r} and {account.key!r}")  # noqa: B023
                internal = account.confluence.handover_space
                owner = next((a.key for a in self.accounts if a.confluence and a.confluence.space == internal), None)
                if internal is not None and owner is not None:
                    # An account's space may be read by its client, and its page events reach the
                    # client's channels: an internal handover page must not be written there.
                    conflicts.append((
                        f"confluence.handover_space {internal} of {account.key!r} is the space of account {owner!r}, "
                        "whose pages may reach that client: handover pages are internal, name a space of the "
                        "agency's own", [(*here, "confluence", "handover_space")]))
            if account.support is not None:
                support = account.support
                if support.match is not None:
                    # Two accounts recognising their issues the same way would see each other's.
                    claim(f"support match {support.project} {support.match.describe()}", account,
                          (*here, "support", "match"),
                          lambda other: f"{support.match.describe() if support.match else ''} in support project "  # noqa: B023
                          f"{support.project} is used by both {other!r} and {account.key!r}")  # noqa: B023
                if not self._split_support_project(support.project) and support.project not in account.jira.projects:
                    claim(f"Jira project {support.project}", account, (*here, "support", "project"),
                          lambda other: f"Jira project {support.project} belongs to both {other!r} and "  # noqa: B023
                          f"{account.key!r}; a support project may be shared when each account says how its "  # noqa: B023
                          "issues are recognised (support.match: component, label or organization)")
            for j, channel in enumerate(account.channels):
                # One channel, one account: otherwise one client could see another's data.
                claim(f"channel {channel.id}", account, (*here, "channels", j, "id"),
                      lambda other: f"channel {channel.id} is linked to both {other!r} and {account.key!r}")  # noqa: B023
        return conflicts

    def _split_support_project(self, project: str) -> bool:
        """Is `project` a support project shared only through `support:` (no account has it in its
        Jira scope, which feeds digests and webhook routing by project) and split by every
        account's `support.match`? Its webhooks reach a request's thread by the issue the bot
        filed for it, never a channel by project."""
        if any(project in a.jira.projects for a in self.accounts):
            return False
        sharing = [a for a in self.accounts if a.support is not None and a.support.project == project]
        return all(a.support is not None and a.support.match is not None for a in sharing)

    def support_accounts(self, project_key: str) -> list[Account]:
        """The accounts filing support requests in this project (several when it is shared)."""
        return [a for a in self.accounts if a.support is not None and a.support.project == project_key]

    def by_key(self, key: str) -> Account | None:
        return next((a for a in self.accounts if a.key == key), None)

    def by_channel(self, channel_id: str) -> tuple[Account, Channel] | None:
        for account in self.accounts:
            channel = account.channel(channel_id)
            if channel is not None:
                return account, channel
        return None

    def by_project(self, project_key: str) -> Account | None:
        return next((a for a in self.accounts if project_key in a.jira.projects), None)

    def for_project(self, project_key: str) -> list[Account]:
        """Every account whose Jira scope could hold an issue of this project: those naming it,
        and those scoped by JQL alone. Of these, an account with `jql` owns an issue only once
        Jira confirmed the issue matches it (the inbox worker asks)."""
        return [a for a in self.accounts if project_key in a.jira.projects or not a.jira.projects
                or (a.support is not None and a.support.project == project_key)]

    def by_space(self, space_key: str) -> Account | None:
        return next(
            (a for a in self.accounts if a.confluence and a.confluence.space == space_key), None
        )


_JQL_PROJECTS = re.compile(r"\bproject\s*(?:=\s*\"?([A-Z][A-Z0-9_]*)\"?|in\s*\(([^)]*)\))", re.IGNORECASE)


def scope_notes(config: AccountsConfig) -> list[str]:
    """What check-config says about Jira scopes that overlap as far as it can see (a project
    named by two accounts, or named by one and in another's JQL): webhooks are checked against the JQL."""
    named: dict[str, list[str]] = {}
    for account in config.accounts:
        for project in account.jira.projects:
            named.setdefault(project, []).append(account.key)
        for match in _JQL_PROJECTS.finditer(account.jira.jql or "") if not account.jira.projects else ():
            for project in (match.group(1),) if match.group(1) else match.group(2).split(","):
                project = project.strip().strip("\"'").upper()
                if project and account.key not in named.get(project, []):
                    named.setdefault(project, []).append(account.key)
    notes = []
    for project, keys in named.items():
        if len(keys) > 1:
            notes.append(f"Jira project {project} is in the scope of {', '.join(keys)}: each of its webhooks reaches "
                         "an account only when Jira confirms the issue matches that account's jql (one search "
                         "per account and batch; an issue matching two accounts' jql goes to both)")
    return notes


def role_notes(config: AccountsConfig) -> list[str]:
    """What check-config says about roles: what each given role is used for."""
    notes = []
    for name, use in ROLE_USES.items():
        keys = [a.key for a in config.accounts if a.roles.of(name) is not None]
        if keys:
            notes.append(f"roles.{name} ({', '.join(keys)}): {use}")
    return notes

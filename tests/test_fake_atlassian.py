"""The fake Jira/Confluence server speaks the documented shapes; the sandbox seed is sound."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import requests

from bot.accounts_file import load_accounts
from sandbox.agency import build_sandbox
from sandbox.atlassian_server import (
    AtlassianSeed,
    Failure,
    FakeAtlassian,
    issue_json,
    jira_timestamp,
    user_json,
    worklog_json,
)
from tests.fakes.jira import InMemoryJira
from tests.fixtures import PAYLOADS

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
ANN = user_json("712020:ann", "Ann Example")
# The repository itself (its folder name depends on where it was cloned).
REPO = Path(__file__).resolve().parents[1]


def _seed() -> AtlassianSeed:
    seed = AtlassianSeed()
    for n in range(1, 6):
        seed.issues.append(
            issue_json(
                str(100 + n), f"AB-{n}", f"Issue {n}", project_id="1", project_name="AB", created=NOW,
                labels=["internal"] if n == 2 else [], status="Done" if n == 3 else "To Do",
                status_category="done" if n == 3 else "new", resolved=NOW if n == 3 else None,
            )
        )
    seed.issues.append(issue_json("201", "CD-1", "Other", project_id="2", project_name="CD", created=NOW))
    seed.worklogs["AB-1"] = [
        worklog_json(str(5000 + i), "101", NOW - dt.timedelta(hours=30 - i), 600, ANN) for i in range(30)
    ]
    return seed


@pytest.fixture
def fake():
    with FakeAtlassian(_seed()) as server:
        yield server


def _get(fake: FakeAtlassian, path: str, **params):
    return requests.get(fake.url + path, params=params, timeout=5)


def test_jira_timestamp_format_matches_real_responses():
    assert jira_timestamp(NOW) == "2026-11-20T10:00:00.000+0000"


def test_fields_param_is_honoured(fake):
    r = _get(fake, "/rest/api/3/search/jql", jql="project = AB", fields="summary,status")
    assert r.status_code == 200
    issues = r.json()["issues"]
    assert [sorted(i["fields"]) for i in issues] == [["status", "summary"]] * 5
    assert issues[0]["fields"]["status"]["statusCategory"]["key"] == "new"
    # Cloud's default is ids only.
    bare = _get(fake, "/rest/api/3/search/jql", jql="project = AB").json()["issues"][0]
    assert "fields" not in bare and bare["key"] == "AB-1"
    everything = _get(fake, "/rest/api/3/search/jql", jql="key = AB-1", fields="*all,-worklog").json()
    assert "worklog" not in everything["issues"][0]["fields"]
    assert "duedate" in everything["issues"][0]["fields"]


def test_search_embeds_at_most_20_worklogs_with_the_total(fake):
    issue = _get(fake, "/rest/api/3/search/jql", jql="key = AB-1", fields="worklog,timespent").json()["issues"][0]
    page = issue["fields"]["worklog"]
    assert (page["startAt"], page["maxResults"], page["total"], len(page["worklogs"])) == (0, 20, 30, 20)
    assert issue["fields"]["timespent"] == 30 * 600


def test_next_page_token_and_is_last(fake):
    first = _get(fake, "/rest/api/3/search/jql", jql="project in (AB, CD)", maxResults="4").json()
    assert first["isLast"] is False and [i["key"] for i in first["issues"]] == ["AB-1", "AB-2", "AB-3", "AB-4"]
    second = requests.post(
        fake.url + "/rest/api/3/search/jql",
        json={"jql": "project in (AB, CD)", "maxResults": 4, "nextPageToken": first["nextPageToken"]},
        timeout=5,
    ).json()
    assert second["isLast"] is True and "nextPageToken" not in second
    assert [i["key"] for i in second["issues"]] == ["AB-5", "CD-1"]


def test_jql_subset(fake):
    def keys(jql: str) -> list[str]:
        return [i["key"] for i in _get(fake, "/rest/api/3/search/jql", jql=jql, maxResults="50").json()["issues"]]

    assert keys("project = CD") == ["CD-1"]
    assert keys("project in (AB) AND (labels != internal) AND statusCategory != Done ORDER BY created DESC") == [
        "AB-1", "AB-4", "AB-5",
    ]
    assert keys("project = AB AND updated >= -14d") == ["AB-1", "AB-2", "AB-3", "AB-4", "AB-5"]
    assert fake.ignored_jql == ["updated >= -14d"]


def test_old_search_is_gone_on_cloud_and_server_flavor_pages_by_start_at():
    with FakeAtlassian(_seed()) as cloud:
        for path in ("/rest/api/3/search", "/rest/api/2/search"):
            r = _get(cloud, path, jql="project = AB")
            assert r.status_code == 410
            assert "/rest/api/3/search/jql" in r.json()["errorMessages"][0]
    with FakeAtlassian(_seed(), flavor="server") as server:
        body = _get(server, "/rest/api/2/search", jql="project = AB", startAt="3", maxResults="10").json()
        assert (body["startAt"], body["maxResults"], body["total"]) == (3, 10, 5)
        assert [i["key"] for i in body["issues"]] == ["AB-4", "AB-5"]
        assert "summary" in body["issues"][0]["fields"]  # Server's default is *navigable
        assert _get(server, "/rest/api/3/search/jql", jql="project = AB").status_code == 404
        assert _get(server, "/rest/api/2/serverInfo").json()["deploymentType"] == "Server"


def test_issue_worklog_paging(fake):
    body = _get(fake, "/rest/api/3/issue/AB-1/worklog", startAt="25", maxResults="10").json()
    assert (body["startAt"], body["maxResults"], body["total"]) == (25, 10, 30)
    assert [w["id"] for w in body["worklogs"]] == ["5025", "5026", "5027", "5028", "5029"]
    assert _get(fake, "/rest/api/3/issue/ZZ-1/worklog").status_code == 404


def test_worklog_updated_and_list(fake):
    updated = _get(fake, "/rest/api/3/worklog/updated", since="0").json()
    assert updated["lastPage"] is True and "nextPage" not in updated
    assert len(updated["values"]) == 30
    assert updated["until"] == updated["values"][-1]["updatedTime"]
    since = updated["values"][27]["updatedTime"]
    later = _get(fake, "/rest/api/3/worklog/updated", since=str(since)).json()
    assert [v["worklogId"] for v in later["values"]] == [5027, 5028, 5029]
    listed = requests.post(fake.url + "/rest/api/3/worklog/list", json={"ids": [5001, 5029, 9]}, timeout=5).json()
    assert [(w["id"], w["issueId"], w["timeSpentSeconds"]) for w in listed] == [("5001", "101", 600), ("5029", "101", 600)]
    too_many = requests.post(fake.url + "/rest/api/3/worklog/list", json={"ids": list(range(1001))}, timeout=5)
    assert too_many.status_code == 400


def test_versions_404_for_unknown_project(fake):
    r = _get(fake, "/rest/api/2/project/ZZ/versions")
    assert r.status_code == 404
    assert r.json() == {"errorMessages": ["No project could be found with key 'ZZ'."], "errors": {}}
    assert _get(fake, "/rest/api/3/project/AB/versions").json() == []


def test_confluence_version_must_increment_and_titles_are_unique():
    sandbox = build_sandbox(NOW)
    with FakeAtlassian(sandbox.seed) as fake:
        spaces = _get(fake, "/wiki/api/v2/spaces", keys="ACME,NW").json()
        assert [s["key"] for s in spaces["results"]] == ["ACME", "NW"]
        page = {"spaceId": "98305", "status": "current", "title": "T", "body": {"representation": "storage", "value": "<p/>"}}
        created = requests.post(fake.url + "/wiki/api/v2/pages", json=page, timeout=5).json()
        assert created["version"]["number"] == 1
        dup = requests.post(fake.url + "/wiki/api/v2/pages", json=page, timeout=5)
        assert dup.status_code == 400
        update = {"id": created["id"], "status": "current", "title": "T", "body": page["body"], "version": {"number": 1}}
        stale = requests.put(f"{fake.url}/wiki/api/v2/pages/{created['id']}", json=update, timeout=5)
        assert stale.status_code == 409
        update["version"]["number"] = 2
        assert requests.put(f"{fake.url}/wiki/api/v2/pages/{created['id']}", json=update, timeout=5).status_code == 200
        found = _get(fake, "/wiki/api/v2/pages", **{"space-id": "98305", "title": "T"}).json()["results"]
        assert [(p["id"], p["version"]["number"]) for p in found] == [(created["id"], 2)]


def test_scripted_failures_call_log_and_match(fake):
    fake.script(Failure(503, match="/worklog"), Failure(429, retry_after="3"))
    assert _get(fake, "/rest/api/3/myself").status_code == 200  # head of the queue does not match
    assert _get(fake, "/rest/api/3/issue/AB-1/worklog").status_code == 503
    r = _get(fake, "/rest/api/3/myself")
    assert (r.status_code, r.headers["Retry-After"]) == (429, "3")
    assert fake.pending_failures == 0
    assert [(c.method, c.path, c.status) for c in fake.calls] == [
        ("GET", "/rest/api/3/myself", 200),
        ("GET", "/rest/api/3/issue/AB-1/worklog", 503),
        ("GET", "/rest/api/3/myself", 429),
    ]
    assert fake.call_count("GET", prefix="/rest/api/3/myself") == 2
    fake.reset_calls()
    assert fake.call_count() == 0


# --------------------------------------------------------------------------- the sandbox agency


def test_sandbox_accounts_equal_the_example_accounts_file():
    example = REPO / "config" / "accounts.example.yaml"
    assert build_sandbox(NOW).accounts == load_accounts(example)


def test_sandbox_is_deterministic_and_relative_to_now():
    a, b = build_sandbox(NOW), build_sandbox(NOW)
    assert json.dumps(a.seed.issues) == json.dumps(b.seed.issues)
    assert json.dumps(a.seed.worklogs) == json.dumps(b.seed.worklogs)
    later = build_sandbox(NOW + dt.timedelta(days=30))
    assert later.seed.issues[0]["fields"]["created"] != a.seed.issues[0]["fields"]["created"]


def test_sandbox_seed_has_what_the_demo_needs():
    sandbox = build_sandbox(NOW)
    jira = InMemoryJira.from_seed(sandbox.seed)
    today = NOW.date()
    month_start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    last_month_start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    counts = {}
    for account in sandbox.accounts.accounts:
        assert all(re.fullmatch(r"[CGD][A-Z0-9]{6,}", c.id) for c in account.channels)
        issues = jira.fetch_issues(account.jira.scope_jql())
        counts[account.key] = len(issues)
        open_issues = [i for i in issues if not i.done]
        assert any(i.due and i.due < today for i in open_issues), account.key
        assert any(i.due and today <= i.due <= today + dt.timedelta(days=7) for i in open_issues), account.key
        assert len([i for i in issues if i.security_level]) == 1
        internal = set(account.jira.internal_labels)
        assert any(set(i.labels) & internal for i in issues) or account.jira.internal_issue_types
        logs = [w for i in issues for w in i.worklogs]
        assert all(last_month_start <= w.started < NOW for w in logs)
        assert any(w.started >= month_start for w in logs) and any(w.started < month_start for w in logs)
        versions = jira.fetch_versions_for(account.jira.projects)
        assert any(v.released and v.release_date and v.release_date < today for v in versions)
        assert any(
            not v.released and v.release_date and v.release_date <= today + dt.timedelta(days=14) for v in versions
        )
    assert counts == {"acme-shop": 48, "northwind": 40, "globex": 32}
    globex_types = {i.issue_type for i in jira.fetch_issues("project = GLX")}
    assert "Incident Review" in globex_types
    assert max(len(v) for v in sandbox.seed.worklogs.values()) > 20
    assert [s["key"] for s in sandbox.seed.spaces] == ["ACME", "NW", "GLX"]


def _spec_operation(spec: dict, path: str, method: str) -> dict | None:
    for template, ops in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in ops:
            return ops[method.lower()]
    return None


def test_adapters_call_only_documented_endpoints_and_parameters():
    from integrations.confluence import AtlassianConfluence
    from integrations.jira import AtlassianJira

    jira_spec = json.loads((PAYLOADS / "specs/jira-cloud-platform.openapi.json").read_text())
    wiki_spec = json.loads((PAYLOADS / "specs/confluence-cloud-v2.openapi.json").read_text())
    sandbox = build_sandbox(NOW)
    with FakeAtlassian(sandbox.seed) as fake:
        with AtlassianJira(fake.url, user="u", api_token="t", page_size=50) as jira:
            jira.fetch_issues("project in (ACME, NW, GLX)")
            jira.fetch_versions_for(["ACME", "NW", "GLX"])
        confluence = AtlassianConfluence(fake.url, user="u", api_token="t")
        confluence.publish_status_page("ACME", "98306", "Status", "<p>1</p>")
        confluence.publish_status_page("ACME", "98306", "Status", "<p>2</p>")
        handover = confluence.create_page("ACME", "98306", "Handover #1", "<p>1</p>")
        confluence.find_page_under("ACME", "98306", "Handover #1")
        confluence.update_page(handover.id, "Handover #1", "<p>2</p>")
        calls = fake.calls
    assert {(c.method, re.sub(r"/(ACME|NW|GLX|ACME-\d+|\d{5,})(?=/|$)", "/{x}", c.path)) for c in calls} == {
        ("GET", "/rest/api/3/search/jql"),
        ("GET", "/rest/api/3/issue/{x}/worklog"),
        ("GET", "/rest/api/3/project/{x}/versions"),
        ("GET", "/wiki/api/v2/spaces"),
        ("GET", "/wiki/api/v2/pages"),
        ("POST", "/wiki/api/v2/pages"),
        ("PUT", "/wiki/api/v2/pages/{x}"),
        ("GET", "/wiki/api/v2/pages/{x}"),
    }
    for call in calls:
        if call.path.startswith("/wiki/api/v2"):
            op = _spec_operation(wiki_spec, call.path[len("/wiki/api/v2"):], call.method)
        else:
            op = _spec_operation(jira_spec, call.path, call.method)
        assert op is not None, call
        declared = {p.get("name") for p in op.get("parameters", []) if "name" in p}
        declared |= {
            wiki_spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
            for p in op.get("parameters", []) if "$ref" in p
        }
        assert set(call.query) <= declared, (call.path, set(call.query) - declared)

"""Jira adapter: JSON translation against real fixtures, and the real client against the fake server."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
from atlassian import JiraCloud
from atlassian.errors import ApiPermissionError

from bot.domain.work import Issue, Version
from integrations.jira import AtlassianJira, board_location_project, expected_fetch_calls
from integrations.jira_calls import count_calls
from integrations.jira_payloads import (
    ISSUE_FIELDS,
    embedded_worklog_page,
    parse_issue,
    parse_jira_duration,
    parse_version,
    parse_worklogs,
)
from integrations.upstream_errors import (
    RetryPolicy,
    UpstreamError,
    UpstreamUnavailable,
    error_from_exception,
)
from sandbox.atlassian_server import (
    AtlassianSeed,
    Failure,
    FakeAtlassian,
    board_json,
    issue_json,
    user_json,
    version_json,
    worklog_json,
)
from tests.fakes.jira import InMemoryJira
from tests.fixtures import PAYLOADS, real_payload

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
ANN = user_json("712020:ann", "Ann Example", "ann@agency.example")
NO_JITTER = RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0, max_retry_after=30.0, jitter=0.0)


# --------------------------------------------------------------------------- parsing real payloads


def test_parse_jira_ruby_search_result_server_without_status_category():
    raw = real_payload("jira-ruby/spec/mock_responses/issue.json")
    issues = [parse_issue(i) for i in raw["issues"]]
    assert len(issues) == 11
    one = next(i for i in issues if i.key == "SAMPLEPROJECT-1")
    assert one.project == "SAMPLEPROJECT"
    assert one.due == dt.date(2011, 12, 14)
    assert one.status == "Open"
    # Old Server: no statusCategory, no resolution -> inferred from the status name.
    assert one.status_category == "new"
    assert one.created == dt.datetime(2011, 12, 14, 10, 26, 6, tzinfo=dt.timezone(dt.timedelta(hours=13)))
    assert one.assignee == "admin"
    assert one.assignee_id == "admin@example.com"
    assert one.issue_type == "Task"
    assert one.priority == "Major"
    assert one.fix_version_ids == ()
    assert one.original_estimate_seconds is None
    assert one.worklogs == ()


def test_parse_putit_cloud_search_done_with_fix_version():
    raw = real_payload(
        "putit-core/spec/fixtures/vcr_cassettes/putit_jira_integration_plugin.yml.extracted/00_get.json"
    )["body"]
    issue = parse_issue(raw["issues"][0])
    assert issue.key == "SC1-2"
    assert issue.project == "SC1"
    assert issue.status == "Done"
    assert issue.status_category == "done"
    assert issue.done is True
    assert issue.issue_type == "Story"
    assert issue.priority == "Medium"
    assert issue.fix_version_ids == ("10000",)
    assert issue.resolved == dt.datetime(2020, 9, 9, 0, 31, 27, 364000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert issue.assignee is None and issue.security_level is None


def test_parse_issue_replaces_nul_in_key_and_summary_as_webhooks_do():
    raw = real_payload(
        "putit-core/spec/fixtures/vcr_cassettes/putit_jira_integration_plugin.yml.extracted/00_get.json"
    )["body"]["issues"][0]
    raw = {**raw, "key": "SC1-2\u0000", "fields": {**raw["fields"], "summary": "a\u0000b"}}  # derived
    issue = parse_issue(raw)
    assert (issue.key, issue.summary) == ("SC1-2\ufffd", "a\ufffdb")


def test_parse_atlassian_python_api_issue_with_many_worklogs():
    raw = real_payload("atlassian-python-api/tests/responses/jira/rest/api/2/issue/FOO-123/GET.json")
    raw_issue = raw["responses"]["fields=*all"]
    issue = parse_issue(raw_issue)
    assert issue.key == "FOO-123"
    assert issue.status_category == "new"
    assert issue.labels == ("sample",)
    assert issue.time_spent_seconds == 30411840
    # 3257 worklogs exist, none embedded: the adapter must follow up for this one.
    assert embedded_worklog_page(raw_issue) == (3257, 0)


def test_parse_worklogs_of_old_server_only_pretty_durations():
    raw = real_payload("jira-ruby/spec/mock_responses/issue/10002/worklog.json")
    logs = parse_worklogs(raw["worklogs"], "SAMPLEPROJECT-1")
    assert [w.id for w in logs] == ["10000", "10001", "10002"]
    # 18w 2d with Jira's defaults (5 d weeks, 8 h days) = 92 days * 8 h.
    assert [w.seconds for w in logs] == [92 * 8 * 3600, 4 * 8 * 3600, 3 * 8 * 3600]
    assert logs[0].author == "admin"
    assert logs[0].started == dt.datetime(2012, 1, 11, 13, 33, tzinfo=dt.timezone(dt.timedelta(hours=13)))


def test_parse_jira_duration():
    assert parse_jira_duration("3h 20m") == 12000
    assert parse_jira_duration("1w") == 144000
    with pytest.raises(ValueError):
        parse_jira_duration("soon")


def test_parse_versions_jira_cli_and_jira_ruby():
    cli = [parse_version(v, "TEST") for v in real_payload("jira-cli/pkg/jira/testdata/releases.json")]
    assert [(v.id, v.name, v.released, v.archived, v.description) for v in cli] == [
        ("1000", "First", True, False, "Release A"),
        ("1001", "Second", False, False, "Release B"),
        ("1002", "Third", False, True, "Release C"),
    ]
    ruby = parse_version(real_payload("jira-ruby/spec/mock_responses/version/10000.json"), "SAMPLEPROJECT")
    assert ruby == Version(
        id="10000", project="SAMPLEPROJECT", name="1.0", released=False, archived=False,
        release_date=dt.date(2012, 1, 12), description="Initial version",
    )


def test_parse_version_from_spec_example_with_epoch_release_date():
    spec = json.loads((PAYLOADS / "specs/jira-cloud-platform.openapi.json").read_text())
    op = spec["paths"]["/rest/api/3/project/{projectIdOrKey}/versions"]["get"]
    example = json.loads(op["responses"]["200"]["content"]["application/json"]["example"])
    versions = [parse_version(v, "HSP") for v in example]
    # 1278385482288 ms = 2010-07-06 UTC (the example's userReleaseDate says 6/Jul/2010).
    assert versions[0].release_date == dt.date(2010, 7, 6)
    assert versions[1].release_date is None and versions[1].released is False


# --------------------------------------------------------------------------- against the fake server


def _seed(count: int, project: str = "AB", worklogs: dict[int, int] | None = None) -> AtlassianSeed:
    seed = AtlassianSeed()
    for n in range(1, count + 1):
        seed.issues.append(
            issue_json(
                str(10000 + n), f"{project}-{n}", f"Issue {n}", project_id="10000", project_name=project,
                created=NOW - dt.timedelta(days=n), due=dt.date(2026, 12, 1) if n == 1 else None,
            )
        )
    wid = 70000
    for n, how_many in (worklogs or {}).items():
        logs = []
        for i in range(how_many):
            wid += 1
            logs.append(worklog_json(str(wid), str(10000 + n), NOW - dt.timedelta(hours=how_many - i), 900, ANN))
        seed.worklogs[f"{project}-{n}"] = logs
    seed.versions[project] = [
        version_json("10100", "Launch", 10000, release_date=dt.date(2026, 12, 1)),
        version_json("10101", "Beta", 10000, release_date=dt.date(2026, 10, 1), released=True),
    ]
    return seed


def _jira(fake: FakeAtlassian, sleeps: list[float] | None = None, **kwargs) -> AtlassianJira:
    kwargs.setdefault("retry", NO_JITTER)
    return AtlassianJira(
        fake.url, user="bot@agency.example", api_token="token",
        sleep=(sleeps.append if sleeps is not None else (lambda s: None)), **kwargs,
    )


def test_cloud_paging_250_issues_takes_three_search_calls():
    with FakeAtlassian(_seed(250)) as fake, _jira(fake) as jira:
        issues = jira.fetch_issues("project = AB")
        calls = fake.calls
    assert [i.key for i in issues] == [f"AB-{n}" for n in range(1, 251)]
    assert [(c.method, c.path) for c in calls] == [("GET", "/rest/api/3/search/jql")] * 3
    assert [c.query.get("maxResults") for c in calls] == [["100"]] * 3
    assert "nextPageToken" not in calls[0].query
    assert all("nextPageToken" in c.query for c in calls[1:])
    assert all(c.query["fields"] == [",".join(ISSUE_FIELDS)] for c in calls)
    assert len(calls) == expected_fetch_calls(250, []) == 3
    assert issues[0].due == dt.date(2026, 12, 1)


def test_cloud_paging_exact_multiple_needs_no_extra_call():
    with FakeAtlassian(_seed(200)) as fake, _jira(fake) as jira:
        assert len(jira.fetch_issues("project = AB")) == 200
        assert fake.call_count() == 2


def test_long_jql_goes_in_a_post_body():
    jql = "project = AB AND " + " AND ".join(f"summary !~ \"noise{n}\"" for n in range(150))
    with FakeAtlassian(_seed(120)) as fake, _jira(fake) as jira:
        assert len(jira.fetch_issues(jql)) == 120
        calls = fake.calls
    assert [(c.method, c.path) for c in calls] == [("POST", "/rest/api/3/search/jql")] * 2
    assert calls[0].body["fields"] == list(ISSUE_FIELDS)
    assert "nextPageToken" in calls[1].body


def test_server_flavor_pages_by_start_at():
    with FakeAtlassian(_seed(250), flavor="server") as fake, _jira(fake, cloud=False) as jira:
        issues = jira.fetch_issues("project = AB")
        calls = fake.calls
    assert len(issues) == 250
    assert [(c.path, c.query["startAt"]) for c in calls] == [
        ("/rest/api/2/search", ["0"]), ("/rest/api/2/search", ["100"]), ("/rest/api/2/search", ["200"]),
    ]


def test_worklog_follow_up_only_for_issues_with_more_than_20():
    seed = _seed(5, worklogs={1: 25, 2: 20, 3: 3})
    with FakeAtlassian(seed) as fake, _jira(fake) as jira:
        issues = {i.key: i for i in jira.fetch_issues("project = AB")}
        calls = fake.calls
    assert [c.path for c in calls] == ["/rest/api/3/search/jql", "/rest/api/3/issue/AB-1/worklog"]
    assert len(calls) == expected_fetch_calls(5, [25, 20, 3]) == 2
    assert len(issues["AB-1"].worklogs) == 25
    assert len(issues["AB-2"].worklogs) == 20
    assert len(issues["AB-3"].worklogs) == 3
    assert issues["AB-1"].time_spent_seconds == 25 * 900
    assert [w.id for w in issues["AB-1"].worklogs][:2] == ["70001", "70002"]


def test_worklog_follow_ups_run_concurrently_and_all_arrive():
    seed = _seed(8, worklogs={n: 21 + n for n in range(1, 7)})
    with FakeAtlassian(seed) as fake, _jira(fake, max_workers=3) as jira:
        issues = {i.key: i for i in jira.fetch_issues("project = AB")}
        assert fake.call_count(prefix="/rest/api/3/issue/") == 6
        assert fake.call_count() == expected_fetch_calls(8, [21 + n for n in range(1, 7)]) == 7
    assert {k: len(i.worklogs) for k, i in issues.items()} == {
        "AB-1": 22, "AB-2": 23, "AB-3": 24, "AB-4": 25, "AB-5": 26, "AB-6": 27, "AB-7": 0, "AB-8": 0,
    }


def test_versions_parsed_and_fetched_per_project_in_order():
    seed = _seed(2)
    seed.versions["CD"] = [version_json("20100", "Go live", 10001, release_date=dt.date(2027, 1, 15))]
    with FakeAtlassian(seed) as fake, _jira(fake) as jira:
        versions = jira.fetch_versions_for(["CD", "AB"])
        assert sorted(c.path for c in fake.calls) == [
            "/rest/api/3/project/AB/versions", "/rest/api/3/project/CD/versions",
        ]
    assert [(v.project, v.id, v.name, v.released, v.release_date) for v in versions] == [
        ("CD", "20100", "Go live", False, dt.date(2027, 1, 15)),
        ("AB", "10100", "Launch", False, dt.date(2026, 12, 1)),
        ("AB", "10101", "Beta", True, dt.date(2026, 10, 1)),
    ]


def test_unknown_project_versions_is_not_retryable():
    with FakeAtlassian(_seed(1)) as fake, _jira(fake) as jira:
        with pytest.raises(UpstreamError) as caught:
            jira.fetch_versions("ZZ")
        assert fake.call_count() == 1
    assert caught.value.status == 404
    assert caught.value.retryable is False
    assert caught.value.service == "jira"
    assert "No project could be found" in str(caught.value)


def test_503_is_retried_then_succeeds():
    sleeps: list[float] = []
    with FakeAtlassian(_seed(3)) as fake, _jira(fake, sleeps) as jira:
        fake.script(Failure(503))
        assert len(jira.fetch_issues("project = AB")) == 3
        assert [c.status for c in fake.calls] == [503, 200]
    assert sleeps == [0.5]


def test_429_retry_after_is_honoured():
    sleeps: list[float] = []
    with FakeAtlassian(_seed(3)) as fake, _jira(fake, sleeps) as jira:
        fake.script(Failure(429, retry_after="2"), Failure(429, retry_after="1"))
        assert len(jira.fetch_issues("project = AB")) == 3
        assert [c.status for c in fake.calls] == [429, 429, 200]
    # Our sleeps only: the library's own Retry-After sleeping is switched off.
    assert sleeps == [2.0, 1.0]


def test_429_with_retry_after_beyond_cap_fails_fast_as_retryable():
    sleeps: list[float] = []
    with FakeAtlassian(_seed(3)) as fake, _jira(fake, sleeps) as jira:
        fake.script(Failure(429, retry_after="600"))
        with pytest.raises(UpstreamUnavailable) as caught:
            jira.fetch_issues("project = AB")
        assert fake.call_count() == 1
    assert sleeps == []
    assert caught.value.retryable is True and caught.value.retry_after == 600.0 and caught.value.status == 429


def test_exhausted_retries_raise_retryable_upstream_unavailable():
    sleeps: list[float] = []
    with FakeAtlassian(_seed(3)) as fake, _jira(fake, sleeps) as jira:
        fake.script(*[Failure(503)] * 4)
        with pytest.raises(UpstreamUnavailable) as caught:
            jira.fetch_issues("project = AB")
        assert fake.call_count() == 4
    assert isinstance(caught.value, UpstreamError)
    assert caught.value.retryable is True and caught.value.status == 503
    assert sleeps == [0.5, 1.0, 2.0]


def test_500_then_timeout_then_success():
    sleeps: list[float] = []
    with FakeAtlassian(_seed(3)) as fake, _jira(fake, sleeps, timeout=(1.0, 0.2)) as jira:
        fake.script(Failure(500), Failure.timeout(0.6))
        assert len(jira.fetch_issues("project = AB")) == 3
        assert fake.call_count() == 3
    assert sleeps == [0.5, 1.0]


def test_400_is_not_retried():
    with FakeAtlassian(_seed(3)) as fake, _jira(fake) as jira:
        fake.script(Failure(400))
        with pytest.raises(UpstreamError) as caught:
            jira.fetch_issues("project = AB")
        assert fake.call_count() == 1
    assert caught.value.retryable is False and caught.value.status == 400


def test_old_search_endpoint_is_gone_on_cloud_and_translates_to_non_retryable():
    with FakeAtlassian(_seed(3)) as fake:
        # JiraCloud's search helpers still call the removed endpoint (see STACK-NOTES).
        client = JiraCloud(fake.url, username="u", password="p", retry_with_header=False)
        with pytest.raises(requests.HTTPError) as caught:
            client.search_for_issues_using_jql(jql="project = AB", fields="summary")
        assert fake.calls[0].path == "/rest/api/3/search"
    err = error_from_exception("jira", caught.value)
    assert err.status == 410 and err.retryable is False
    assert "search/jql" in str(err)


def test_error_translation_of_library_exceptions():
    assert error_from_exception("jira", requests.exceptions.RetryError("x")).retryable is True
    assert isinstance(error_from_exception("jira", requests.exceptions.RetryError("x")), UpstreamUnavailable)
    assert error_from_exception("jira", requests.ConnectionError("refused")).retryable is True
    assert error_from_exception("jira", requests.ReadTimeout("slow")).retryable is True
    denied = error_from_exception("confluence", ApiPermissionError("no"))
    assert (denied.service, denied.status, denied.retryable) == ("confluence", 403, False)


def test_in_memory_jira_filters_by_project_and_can_fail():
    issue = Issue(
        key="AB-1", project="AB", summary="s", issue_type="Task", status="To Do",
        status_category="new", created=NOW,
    )
    other = Issue(
        key="CD-1", project="CD", summary="s", issue_type="Task", status="To Do",
        status_category="new", created=NOW,
    )
    fake = InMemoryJira([issue, other], [Version(id="1", project="CD", name="v")])
    assert fake.fetch_issues("project in (AB, EF) AND labels != internal") == [issue]
    assert fake.fetch_issues("project = CD") == [other]
    assert [v.id for v in fake.fetch_versions_for(["AB", "CD"])] == ["1"]
    fake.error = UpstreamUnavailable("jira", "down", retryable=True)
    with pytest.raises(UpstreamUnavailable):
        fake.fetch_issues("project = AB")
    assert fake.calls[0] == ("fetch_issues", "project in (AB, EF) AND labels != internal")


def test_worker_clients_are_reused_between_fetches_and_closed():
    seed = _seed(4, worklogs={n: 25 for n in range(1, 5)})
    with FakeAtlassian(seed) as fake:
        jira = _jira(fake, max_workers=2)
        jira.fetch_issues("project = AB")
        jira.fetch_issues("project = AB")
        # The caller's client plus at most one per worker, however many fetches run.
        assert len(jira._clients) <= 3
        jira.close()
        assert jira._clients == []
        assert fake.call_count() == 2 * expected_fetch_calls(4, [25] * 4) == 10


# --------------------------------------------------------------------------- boards (sprint routing)

GO_JIRA = "go-jira/testing/mock-data"


def test_board_location_project_reads_real_board_shapes():
    boards = {b["id"]: b for b in real_payload(f"{GO_JIRA}/all_boards.json")["values"]}
    # go-jira's board 1 sits in project AP; board 4 names no location (a user's board).
    assert board_location_project(boards[1]) == "AP"
    assert board_location_project(boards[4]) is None
    assert board_location_project({"id": 2, "location": {"userId": 10, "name": "Ann"}}) is None


def test_board_endpoint_and_location_match_the_jira_software_spec():
    spec = real_payload("specs/jira-software.openapi.json")
    get = spec["paths"]["/rest/agile/1.0/board/{boardId}"]["get"]
    assert [p["name"] for p in get["parameters"]] == ["boardId"]
    location = get["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["location"]
    fake = board_json(81, "TSD board", {"id": "10000", "key": "AB", "name": "Alpha Beta"})
    # The fake's board carries only properties the spec declares.
    assert set(fake["location"]) <= set(location["properties"])
    assert set(fake) <= set(get["responses"]["200"]["content"]["application/json"]["schema"]["properties"])


def _board_seed() -> AtlassianSeed:
    seed = _seed(1)
    seed.boards = [
        board_json(81, "AB board", {"id": "10000", "key": "AB", "name": "Alpha Beta"}),
        board_json(82, "Ann's board", None, board_type="kanban"),
    ]
    return seed


@pytest.mark.parametrize("cloud", [True, False])
def test_board_project_is_one_counted_call_on_cloud_and_data_center(cloud):
    with FakeAtlassian(_board_seed(), flavor="cloud" if cloud else "server") as fake, _jira(fake, cloud=cloud) as jira:
        with count_calls() as counter:
            assert jira.board_project(81) == "AB"
            assert jira.board_project("82") is None  # a board in no project
            assert jira.board_project(99) is None  # 404: gone, or not visible to us
        calls = [(c.method, c.path, c.status) for c in fake.calls]
    assert calls == [
        ("GET", "/rest/agile/1.0/board/81", 200),
        ("GET", "/rest/agile/1.0/board/82", 200),
        ("GET", "/rest/agile/1.0/board/99", 404),
    ]
    assert counter.value == 3


def test_board_project_retries_a_503_and_fails_on_a_403():
    sleeps: list[float] = []
    with FakeAtlassian(_board_seed()) as fake, _jira(fake, sleeps) as jira:
        fake.script(Failure(503, match="/rest/agile/"))
        assert jira.board_project(81) == "AB"
        assert sleeps == [0.5]
        fake.script(Failure(403, match="/rest/agile/"))
        with pytest.raises(UpstreamError) as err:
            jira.board_project(81)
        assert fake.call_count("GET", path="/rest/agile/1.0/board/81") == 3
    assert (err.value.status, err.value.retryable) == (403, False)


def test_board_project_refuses_what_is_not_a_board_id():
    with pytest.raises(ValueError):
        InMemoryJira().board_project("81/../../myself")
    with pytest.raises(ValueError):
        AtlassianJira("http://127.0.0.1:9", user="u", api_token="t").board_project(True)


def test_in_memory_jira_boards_from_a_seed_and_can_fail():
    jira = InMemoryJira.from_seed(_board_seed())
    assert (jira.board_project(81), jira.board_project(82), jira.board_project(7)) == ("AB", None, None)
    assert jira.calls == [("board_project", "81"), ("board_project", "82"), ("board_project", "7")]
    jira.error = UpstreamUnavailable("jira", "down", retryable=True)
    with pytest.raises(UpstreamUnavailable):
        jira.board_project(81)


def test_sandbox_has_one_board_per_project_served_by_the_fake():
    from sandbox.agency import build_sandbox

    with FakeAtlassian(build_sandbox(NOW).seed) as fake, _jira(fake) as jira:
        assert [jira.board_project(b) for b in (81, 82, 83, 84)] == ["ACME", "NW", "GLX", None]

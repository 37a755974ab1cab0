"""In-memory doubles of the outside systems, one module per system, shared by every test.

Each implements its port (`integrations.jira.JiraPort`, `integrations.slack.SlackPort`,
`integrations.confluence.ConfluencePort`) over plain values and records its calls. Tests that need the
real client libraries use the sandbox's loopback servers (`sandbox.atlassian_server`,
`sandbox.slack_server`) instead.
"""

"""The sandbox agency: three made-up client accounts and the stage they play on.

`pulse demo` (a product feature), the benchmarks and the tests run the real bot against it:
`agency` seeds the accounts and their Jira/Confluence data, `webhooks` the Jira deliveries the demo
sends, `atlassian_server` and `slack_server` are loopback HTTP servers that speak the documented
Jira/Confluence and Slack Web APIs to the real client libraries, `loopback` runs such a server on a
free 127.0.0.1 port and `app_server` serves the bot's own ASGI app that way. Nothing in `bot/` or
`integrations/` imports this package except the demo.
"""

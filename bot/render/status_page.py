"""The digest as a Confluence status page (storage format), and the link to it in Slack."""

from __future__ import annotations

import dataclasses
import html

from bot.domain.accounts import Account
from bot.domain.digest import Digest
from bot.render.blocks import MAX_BLOCKS, Message
from bot.render.digest import RenderedDigest
from bot.render.i18n import translate


def status_page_title(account: Account, digest: Digest) -> str:
    """One page per budget period (calendar month for retainers, the project span otherwise)."""
    period = digest.budget.period if digest.budget else None
    if period is None or account.budget is None or account.budget.period == "monthly":
        return f"{account.name} — Status {digest.today:%Y-%m}"
    return f"{account.name} — Status {period.start.isoformat()} – {period.end.isoformat()}"


def status_page_storage(rendered: RenderedDigest) -> str:
    """XHTML storage format from the digest's plain text: title, one heading per section, bullet lists."""
    blocks = [b.strip("\n") for b in rendered.text.strip().split("\n\n") if b.strip()]
    out: list[str] = []
    for number, block in enumerate(blocks):
        lines = block.split("\n")
        if number == 0:
            # The digest header: title line and its context line.
            out.append(f"<h1>{html.escape(lines[0])}</h1>")
            out.extend(f"<p><em>{html.escape(line)}</em></p>" for line in lines[1:])
            continue
        out.append(f"<h2>{html.escape(lines[0])}</h2>")
        items: list[str] = []
        for line in lines[1:]:
            if line.startswith(("• ", "🔴 ")):
                items.append(f"<li>{html.escape(line[2:].strip())}</li>")
            elif line.startswith("   ") and items:
                # A detail line of the previous bullet (milestone progress).
                items[-1] = items[-1][: -len("</li>")] + f"<br/>{html.escape(line.strip())}</li>"
            else:
                if items:
                    out.append("<ul>" + "".join(items) + "</ul>")
                    items = []
                out.append(f"<p>{html.escape(line)}</p>")
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
    return "".join(out)


def with_status_page_link(rendered: RenderedDigest, url: str, language: str) -> RenderedDigest:
    """The same digest with a link to its Confluence status page under the first message."""
    label = translate(language, "digest.status_page")
    block = {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{url}|{label}>"}]}
    first, *rest = rendered.messages
    if len(first.blocks) < MAX_BLOCKS:
        messages = [dataclasses.replace(first, blocks=[*first.blocks, block]), *rest]
    else:
        # No room in the first message: the link follows in the thread.
        messages = [first, *rest, Message(f"{label}: {url}", [block])]
    return RenderedDigest(messages=messages, text=f"{rendered.text.rstrip()}\n\n{label}: {url}\n")

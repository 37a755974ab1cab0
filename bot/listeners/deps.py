"""What listeners need from the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.listeners.answers import Answers
from bot.services.channel_audiences import ChannelAudiences
from bot.services.channel_links import LinkService
from bot.services.commands import CommandService
from bot.services.directory import Directory
from bot.services.handover import HandoverService
from bot.services.handover_nudge import VacationNudges
from bot.services.portfolio import PortfolioHome
from bot.services.slack_intents import SlackIntents
from bot.services.support import SupportService


@dataclass
class ListenerDeps:
    commands: CommandService
    directory: Directory
    # What listeners go on with after the ack; shutdown drains it.
    answers: Answers = field(default_factory=Answers)
    # Told when Slack says a channel's sharing changed; None: nothing to tell.
    audiences: ChannelAudiences | None = None
    # The App Home (the portfolio); None: no Home tab.
    home: PortfolioHome | None = None
    # Support requests' buttons, shortcut and thread replies; None: not wired (no Slack).
    support: SupportService | None = None
    # Runtime channel links (`/pulse link` modal submissions); None: not offered.
    links: LinkService | None = None
    # Handovers: the form's submission and the buttons that open it; None: not offered (no store).
    handovers: HandoverService | None = None
    # The "hand your roles over?" DM on a vacation Slack status; None: not sent (no Slack to post with).
    nudges: VacationNudges | None = None
    # Slack requests recorded before their ack (support requests by mention); None: not recorded (no store).
    intents: SlackIntents | None = None

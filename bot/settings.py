"""Typed settings, read from the environment and `.env` — only when `load_settings()` is called.

Names are the ones people already know from Slack's and Atlassian's docs (SLACK_BOT_TOKEN,
JIRA_URL, …). Secrets are `SecretStr` without defaults so they never print and never appear by
accident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///pulse.db"


class _Section(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)


class SlackSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="SLACK_", env_file=".env", extra="ignore")

    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = Field(default=None, description="xapp-… enables Socket Mode")
    api_url: str = "https://slack.com/api/"

    @field_validator("api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins method names onto base_url verbatim.
        return value if value.endswith("/") else value + "/"


class JiraSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="JIRA_", env_file=".env", extra="ignore")

    url: str | None = None
    user: str | None = Field(default=None, description="Cloud: the email of the API token's owner")
    api_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("JIRA_API_TOKEN", "JIRA_TOKEN")
    )
    cloud: bool | None = Field(default=None, description="default: true for *.atlassian.net")
    webhook_secret: SecretStr | None = None

    @property
    def is_cloud(self) -> bool:
        if self.cloud is not None:
            return self.cloud
        return bool(self.url and ".atlassian.net" in self.url)


class ConfluenceSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="CONFLUENCE_", env_file=".env", extra="ignore")

    url: str | None = None
    user: str | None = None
    api_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    cloud: bool | None = Field(default=None, description="default: true for *.atlassian.net")

    @property
    def is_cloud(self) -> bool:
        if self.cloud is not None:
            return self.cloud
        return bool(self.url and ".atlassian.net" in self.url)


class Settings(_Section):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    slack: SlackSettings = Field(default_factory=SlackSettings)
    jira: JiraSettings = Field(default_factory=JiraSettings)
    confluence: ConfluenceSettings = Field(default_factory=ConfluenceSettings)
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL")
    )
    accounts_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("PULSE_ACCOUNTS_FILE")
    )
    port: int = Field(default=3000, validation_alias=AliasChoices("PORT"))
    host: str = Field(default="0.0.0.0", validation_alias=AliasChoices("PULSE_HOST"))
    scheduler_enabled: bool = Field(default=True, validation_alias=AliasChoices("PULSE_SCHEDULER"))
    admin_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("PULSE_ADMINS"),
        description="Slack user ids of agency admins, comma separated",
    )
    admin_usergroup: str | None = Field(
        default=None, validation_alias=AliasChoices("PULSE_ADMIN_USERGROUP")
    )
    webhook_max_bytes: int = Field(
        default=1_048_576, validation_alias=AliasChoices("PULSE_WEBHOOK_MAX_BYTES")
    )
    weekly_overview: str | None = Field(
        default="0 8 * * mon", validation_alias=AliasChoices("PULSE_WEEKLY_OVERVIEW"),
        description="when role holders get their weekly overview by DM (cron in their accounts' timezone); off: never",
    )

    @field_validator("weekly_overview", mode="before")
    @classmethod
    def _weekly_cron(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off", "false", "no", "0")):
            return None
        if isinstance(value, str):
            from bot.domain.schedule import cron_problem

            problem = cron_problem(value.strip())
            if problem:
                raise ValueError(f"PULSE_WEEKLY_OVERVIEW: {problem}; or 'off'")
            return value.strip()
        return value

    @field_validator("admin_users", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def confluence_url(self) -> str | None:
        return self.confluence.url

    @property
    def confluence_user(self) -> str | None:
        return self.confluence.user or self.jira.user

    @property
    def confluence_token(self) -> SecretStr | None:
        return self.confluence.api_token or self.jira.api_token

    @property
    def confluence_webhook_secret(self) -> SecretStr | None:
        return self.confluence.webhook_secret or self.jira.webhook_secret

    def _missing_jira(self) -> list[str]:
        missing = []
        if not self.jira.url:
            missing.append("JIRA_URL")
        if self.jira.api_token is None:
            missing.append("JIRA_API_TOKEN")
        if self.jira.is_cloud and not self.jira.user:
            missing.append("JIRA_USER")
        return missing

    def missing_for_serve(self) -> list[str]:
        """Names of the settings `pulse serve` cannot run without, in a fixed order."""
        missing = []
        if self.slack.bot_token is None:
            missing.append("SLACK_BOT_TOKEN")
        if self.slack.app_token is None and self.slack.signing_secret is None:
            # Socket Mode needs no signing secret; HTTP mode must verify every request.
            missing.append("SLACK_SIGNING_SECRET")
        missing += self._missing_jira()
        if self.jira.webhook_secret is None:
            missing.append("JIRA_WEBHOOK_SECRET")
        if self.accounts_file is None:
            missing.append("PULSE_ACCOUNTS_FILE")
        return missing

    def missing_for_digest(self, post: bool) -> list[str]:
        """Names of the settings `pulse digest` needs (Slack only when it posts)."""
        missing = self._missing_jira()
        if self.accounts_file is None:
            missing.append("PULSE_ACCOUNTS_FILE")
        if post and self.slack.bot_token is None:
            missing.append("SLACK_BOT_TOKEN")
        return missing


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read settings from the environment (and the env file, if it exists)."""
    return Settings(
        _env_file=env_file,
        slack=SlackSettings(_env_file=env_file),
        jira=JiraSettings(_env_file=env_file),
        confluence=ConfluenceSettings(_env_file=env_file),
    )

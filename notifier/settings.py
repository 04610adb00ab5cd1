"""Daemon configuration: YAML file, `NOTIFIER_*` environment variables, secrets from files.

Precedence (highest first): environment, `*_FILE` secret files and the systemd credentials
directory, the YAML file named by `NOTIFIER_CONFIG` (default `config/notifier.yaml` if present),
then defaults. The defaults run the embedded setup: SQLite under `./var` and the built-in sandbox.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from notifier.domain.exercise import Exercise
from notifier.domain.jsonlimits import JsonLimits


class TwilioSettings(BaseModel):
    account_sid: str = "AC" + "0" * 32
    auth_token: SecretStr = SecretStr("sandbox-auth-token")
    alternate_auth_token: SecretStr | None = None
    from_numbers: list[str] = Field(default_factory=lambda: ["+15005550006"])
    rate_per_sender: float = Field(1.0, gt=0, description="messages per second per sender number")
    base_url: str | None = Field(None, description="override of https://api.twilio.com (the sandbox)")
    timeout: float = 10.0


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8025
    username: str | None = None
    password: SecretStr | None = None
    start_tls: bool = False
    use_tls: bool = False
    sender: str = "notifier@example.org"


class DeliverySettings(BaseModel):
    """Which providers serve each channel, in order of preference, and when one is taken out.

    A provider is named by its package under `notifier.channels` (twilio, smtp, kannel, apprise) or
    by a module path; its own settings live under `providers.<name>` (Twilio and SMTP: their own
    sections). See "Adding a provider" in docs/providers.md.
    """

    sms: list[str] = Field(default_factory=lambda: ["twilio"], min_length=1)
    voice: list[str] = Field(default_factory=lambda: ["twilio"], min_length=1)
    email: list[str] = Field(default_factory=lambda: ["smtp"], min_length=1)
    chat: list[str] = Field(
        default_factory=lambda: ["apprise"], description="informed channels (`notify:` targets)"
    )
    failure_threshold: int = Field(
        3, ge=1, description="consecutive transport errors, 5xx or timeouts before a provider is taken out"
    )
    cooldown: timedelta = Field(timedelta(seconds=60), description="how long a failing provider stays out")
    health_interval: timedelta = Field(
        timedelta(seconds=30), description="how often providers with a health check are probed"
    )


class MqttSettings(BaseModel):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "notifier"
    client_id: str = Field("notifier", description="fixed: the broker keeps this session's queue")
    shared_group: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    keepalive: int = Field(30, ge=5, description="seconds; the last will fires after 1.5x without traffic")


class DrillSchedule(BaseModel):
    """A notification drill of one call tree on a calendar (NIST SP 800-34 §3.5: test call trees)."""

    tree: str = Field(description="call tree id")
    cron: str = Field(
        "0 10 1 1,4,7,10 *",
        description="standard 5-field crontab (0 or 7 = Sunday), in `timezone`; default quarterly",
    )
    timezone: str | None = Field(None, description="IANA zone; default: the organisation's")
    announced: bool = Field(False, description="send a heads-up `announce_before` the drill")
    announce_before: timedelta = Field(timedelta(days=1), description="e.g. PT24H or 86400 (seconds)")
    fields: dict[str, str] = Field(default_factory=dict, description="message fields of the drill")
    exercise: Exercise = Field(
        default_factory=Exercise,
        description="the drill's test plan: type, objectives, facilitator, scope, scenario, logistics",
    )
    enabled: bool = True


class ReminderSettings(BaseModel):
    """Contact review reminders: who is overdue under the plan's review policy is asked to confirm."""

    enabled: bool = False
    cron: str = Field("0 9 * * *", description="when the daily check runs, in the organisation's zone")
    repeat_days: int = Field(7, ge=1, description="days before an unanswered reminder is sent again")


class ReportDelivery(BaseModel):
    """Email the reports of activations completed since the last delivery."""

    cron: str = Field(description="standard 5-field crontab in the organisation's time zone")
    kinds: list[str] = Field(default_factory=lambda: ["drill", "incident"])
    recipients: list[str] = Field(
        default_factory=list, description="person ids; default: the organisation's report_recipients"
    )


class ScheduleSettings(BaseModel):
    """Calendar jobs; with several instances only the leader (advisory lock) runs them."""

    enabled: bool = True
    drills: list[DrillSchedule] = Field(default_factory=list)
    reminders: ReminderSettings = ReminderSettings()
    reports: list[ReportDelivery] = Field(default_factory=list)
    email_drill_reports: bool = Field(True, description="email each drill's report when it completes")
    misfire_grace: timedelta = Field(
        timedelta(hours=1), description="a job missed while no instance ran still fires this late"
    )


class SpoolSettings(BaseModel):
    """The local durable spool of Twilio webhooks the database cannot take now (README: design)."""

    max_bytes: int = Field(
        64_000_000, ge=65_536, description="spool size; past it webhooks are answered 503 (logged)"
    )
    burst: int = Field(
        256, ge=1, description="webhooks being applied at once beyond which new ones are spooled"
    )


#: seconds the HTTP servers (the daemon's, the webhook workers') keep an idle client connection open
#: (nginx's default): longer than a client keeps one (aiohttp and the sandbox: 15 s), so that a
#: client never reuses a connection just as we close it (that webhook, a reply Twilio does not
#: retry, would be lost)
KEEP_ALIVE_SECONDS = 75


class WebhookWorkerSettings(BaseModel):
    """Twilio webhooks verified and spooled by worker processes, applied by the engine in batches
    (README: design notes, "Webhook workers")."""

    workers: int = Field(
        0, ge=0, le=16, description="webhook worker processes `notifier serve` starts (0: the daemon itself)"
    )
    port: int | None = Field(None, ge=1, le=65535, description="the workers' port; default: http_port + 1")
    public_base_url: str | None = Field(
        None,
        description="the URL at which Twilio reaches the webhooks (callback URLs and signatures); "
        "default: public_base_url (a reverse proxy sends /webhooks/twilio/ to the workers' port)",
    )
    answer_wait: float = Field(
        5.0,
        gt=0,
        le=12,
        description="seconds a worker waits for the engine's answer to an SMS reply or a call before "
        "answering what it can say alone (Twilio gives up after 15)",
    )


class LimitSettings(BaseModel):
    """Bounds on the work one input may cause; docs/limits.md lists each with what it guards."""

    http_body_bytes: int = Field(1_000_000, ge=1024, description="any HTTP request body (413 beyond)")
    http_query_bytes: int = Field(8_000, ge=1024, description="the query string of any request (414 beyond)")
    json_depth: int = Field(32, ge=4, description="nesting of JSON bodies and MQTT payloads")
    json_number_chars: int = Field(40, ge=20, description="characters of one JSON number")
    json_key_chars: int = Field(256, ge=16, description="characters of one JSON field name")
    webhook_form_bytes: int = Field(64_000, ge=1024, description="a Twilio webhook's form body")
    webhook_form_fields: int = Field(100, ge=10, description="parameters in one Twilio webhook form")
    webhook_value_chars: int = Field(4_000, ge=1600, description="one Twilio form value (SMS: 1,600)")
    alerts_per_request: int = Field(1_000, ge=1, description="alerts in one HTTP body or MQTT payload")
    mqtt_payload_bytes: int = Field(1_000_000, ge=1024, description="one MQTT alert payload")
    activation_fields: int = Field(50, ge=1, description="message fields given when starting one")
    activation_field_name_chars: int = Field(64, ge=8, description="characters of a field name")
    activation_field_value_chars: int = Field(2_000, ge=100, description="characters of a field value")
    yaml_file_bytes: int = Field(64_000_000, ge=1024, description="one plan or call-tree YAML file")
    log_value_chars: int = Field(2_000, ge=200, description="a string value in a log line (cut beyond)")

    def json_limits(self, max_bytes: int | None = None) -> JsonLimits:
        """The JSON limits, for a body of at most `max_bytes` (default: `http_body_bytes`)."""
        return JsonLimits(
            max_bytes=max_bytes or self.http_body_bytes,
            max_depth=self.json_depth,
            max_number_chars=self.json_number_chars,
            max_key_chars=self.json_key_chars,
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", env_nested_delimiter="__", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/notifier.db"
    plan_paths: list[Path] = Field(default_factory=lambda: [Path("config")])
    calltree_paths: list[Path] = Field(default_factory=lambda: [Path("calltrees")])
    public_base_url: str = "http://127.0.0.1:8080"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    secret_key: SecretStr = SecretStr("change-me-in-production")
    sandbox: bool = True
    max_in_flight: int = Field(50, ge=1, description="concurrent provider requests")
    clock_scale: float = Field(1.0, gt=0, description="tests run time faster; 1.0 in production")
    log_format: str = Field("auto", pattern="^(auto|json|console)$")
    twilio: TwilioSettings = TwilioSettings()
    smtp: SmtpSettings = SmtpSettings()
    mqtt: MqttSettings = MqttSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    limits: LimitSettings = LimitSettings()
    sms_bundle_seconds: float = Field(
        0,
        ge=0,
        le=300,
        description="SMS pages wait this long so that pages of several open activations to one number go "
        "as one SMS listing them (0: each is sent at once)",
    )
    pagerduty_events_per_minute: int = Field(
        120, ge=1, description="PagerDuty Events API v2: events per routing key per minute before 429"
    )
    phone_region: str | None = Field(
        None,
        pattern="^[A-Z]{2}$",
        description="ISO 3166 region in which numbers without + are read when masking them for "
        "viewers (0470 300 001); default: the country of most of the plan's numbers",
    )
    delivery: DeliverySettings = DeliverySettings()
    state_dir: Path | None = Field(
        None,
        description="where the daemon keeps local state (the webhook spool); default: systemd's "
        "$STATE_DIRECTORY, else beside the SQLite database file, else ./var",
    )
    spool: SpoolSettings = SpoolSettings()
    webhooks: WebhookWorkerSettings = WebhookWorkerSettings()

    def twilio_webhook_base(self) -> str:
        """The base of the URLs Twilio posts webhooks to, and signs (`webhooks.public_base_url`)."""
        return (self.webhooks.public_base_url or self.public_base_url).rstrip("/")

    def webhook_port(self) -> int:
        return self.webhooks.port or self.http_port + 1

    def state_directory(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir
        systemd = os.environ.get("STATE_DIRECTORY", "").split(":")[0]  # StateDirectory= in the unit
        if systemd:
            return Path(systemd)
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url.removeprefix(prefix)).parent
        return Path("var")

    providers: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per provider name, its own settings (e.g. providers.kannel)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _SecretFiles(settings_cls), _YamlFile(settings_cls))


class _YamlFile(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = Path(os.environ.get("NOTIFIER_CONFIG", "config/notifier.yaml"))
        if not path.is_file():
            return {}
        data = yaml.safe_load(path.read_text()) or {}
        return data if isinstance(data, dict) else {}


class _SecretFiles(PydanticBaseSettingsSource):
    """`NOTIFIER_X_FILE=/path` and `$CREDENTIALS_DIRECTORY/notifier_x` hold the secret X."""

    SECRETS: ClassVar[dict[str, tuple[str, ...]]] = {
        "secret_key": ("secret_key",),
        "twilio_auth_token": ("twilio", "auth_token"),
        "twilio_alternate_auth_token": ("twilio", "alternate_auth_token"),
        "smtp_password": ("smtp", "password"),
        "mqtt_password": ("mqtt", "password"),
        "kannel_password": ("providers", "kannel", "password"),
        "kannel_secret": ("providers", "kannel", "secret"),
        "database_url": ("database_url",),
    }

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
        for name, path in self.SECRETS.items():
            file = os.environ.get(f"NOTIFIER_{name.upper()}_FILE")
            candidate = Path(file) if file else (Path(cred_dir) / f"notifier_{name}" if cred_dir else None)
            if candidate is None or not candidate.is_file():
                continue
            value = candidate.read_text().strip()
            target = found
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
        return found

"""Provider settings: Kannel's secrets from files beside the YAML, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.channels import registry
from notifier.channels.registry import BuildContext, ProviderError
from notifier.settings import Settings


def test_kannel_password_and_secret_come_from_files_beside_the_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "notifier.yaml"
    config.write_text("providers:\n  kannel:\n    username: notifier\n    sender: '+3222999000'\n")
    (tmp_path / "secret").write_text("kannel-shared-secret\n")
    (tmp_path / "password").write_text("kannel-password\n")
    monkeypatch.setenv("NOTIFIER_CONFIG", str(config))
    monkeypatch.setenv("NOTIFIER_KANNEL_SECRET_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("NOTIFIER_KANNEL_PASSWORD_FILE", str(tmp_path / "password"))
    settings = Settings(delivery={"sms": ["twilio", "kannel"]})
    kannel = registry.build("kannel", BuildContext(settings))
    assert kannel.channels == {"sms"} and kannel.two_way
    params = kannel.params(  # type: ignore[attr-defined]
        _message(), sender=None
    )
    assert params["password"] == "kannel-password" and params["from"] == "+3222999000"
    assert "kannel-shared-secret" not in params["dlr-url"]  # an HMAC of the token, not the secret


def test_a_missing_kannel_setting_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFIER_CONFIG", str(tmp_path / "absent.yaml"))
    settings = Settings(providers={"kannel": {"username": "notifier", "password": "x"}})
    with pytest.raises(ProviderError, match=r"providers\.kannel\.secret: Field required"):
        registry.build("kannel", BuildContext(settings))


def test_an_unknown_provider_is_named() -> None:
    with pytest.raises(ProviderError, match="unknown provider 'carrier-pigeon'"):
        registry.spec("carrier-pigeon")


def _message() -> object:
    from notifier.channels.base import OutboundMessage

    return OutboundMessage(
        attempt_id="a1", channel="sms", to="+32470990201", text="SEED down", callback_token="x.a1"
    )

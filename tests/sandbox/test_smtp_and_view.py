"""The SMTP sink with aiosmtplib, the email click persona, and the `/sandbox/*` JSON view."""

from __future__ import annotations

from email.message import EmailMessage

import aiohttp
import aiosmtplib
from twilio.rest import Client

from notifier.sandbox import Persona, Sandbox

from .conftest import SENDER, Receiver

CLARA = "+32470000003"
CLARA_MAIL = "clara.it-continuity@example.org"


def activation_mail(link: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "notifier@example.org"
    mail["To"] = CLARA_MAIL
    mail["Subject"] = "[K7Q] ITSCM activation: EOS unavailable"
    mail.set_content(f"EOS is unavailable since 09:00 (RTO 8h).\nAcknowledge: {link}\n")
    return mail


async def test_sink_records_a_parsed_message(sandbox: Sandbox) -> None:
    await aiosmtplib.send(
        activation_mail("https://example.org/ack/x"), hostname="127.0.0.1", port=sandbox.smtp_port
    )
    (email,) = sandbox.emails
    assert email.envelope_to == [CLARA_MAIL]
    assert email.subject == "[K7Q] ITSCM activation: EOS unavailable"
    assert "RTO 8h" in email.text() and email.clicks == []


async def test_click_persona_gets_the_page_then_posts_its_form(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.personas.add(
        Persona(
            CLARA,
            email=CLARA_MAIL,
            email_click=True,
            email_click_after=30,
            email_link_pattern=r"http://127\.0\.0\.1:\d+/ack/\S+",
        )
    )
    await aiosmtplib.send(
        activation_mail(f"{receiver.url}/ack/tok123"), hostname="127.0.0.1", port=sandbox.smtp_port
    )
    email = await sandbox.device(CLARA).expect_email(r"EOS unavailable", timeout=5)
    await sandbox.wait_idle()
    assert [(c.kind, c.status) for c in email.clicks] == [("email-link", 200), ("email-form", 200)]
    (posted,) = receiver.on("/ack/tok123/confirm")
    assert posted.method == "POST"
    assert posted.params == {"csrf": ["c5rf"], "answer": ["confirm"]}


async def test_json_view_and_remote_personas(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:
        response = await http.post("/sandbox/personas", json=[{"number": CLARA, "preset": "declines"}])
        assert response.status == 200
        bad = await http.post("/sandbox/personas", json={"number": CLARA, "voice": "maybe", "colour": 1})
        assert bad.status == 400
        assert sandbox.personas.for_number(CLARA).sms_reply == "2"

        await client.messages.create_async(to=CLARA, from_=SENDER, body="SEED down. Reply 1 or 2")
        await sandbox.wait_idle()
        view = await (await http.get("/sandbox/messages")).json()
        assert [m["status"] for m in view["messages"]] == ["delivered"]
        assert view["inbound"][0]["body"] == "2" and view["inbound"][0]["status"] == 200

        reply = await http.post("/sandbox/replies", json={"from": CLARA, "to": SENDER, "body": "HELP"})
        assert (await reply.json())["webhook_status"] == 200
        assert receiver.on("/webhooks/twilio/sms")[-1].params["Body"] == ["HELP"]

        await client.calls.create_async(to=CLARA, from_=SENDER, url=f"{receiver.url}/voice/start")
        await sandbox.wait_idle()
        calls = (await (await http.get("/sandbox/calls")).json())["calls"]
        assert calls[0]["digits_sent"] == ["2"] and calls[0]["finished"] is True
        emails = await (await http.get("/sandbox/emails")).json()
        assert emails == {"emails": []}

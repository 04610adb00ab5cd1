"""Message rendering: NIST content fields, drill marking, SMS grammar and limits, safe templates."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from notifier.domain.calltree import ActivationKind, Template, Templates
from notifier.domain.messages import (
    REF_SPACE,
    SMS_MAX_CHARS,
    MessageFields,
    MessageKind,
    RenderedMessage,
    reference_code,
    render,
    sms_segments,
)
from notifier.domain.plan import ChannelKind

SMS, VOICE, EMAIL = ChannelKind.SMS, ChannelKind.VOICE, ChannelKind.EMAIL
GRAMMAR = "Reply 1 to confirm, 2 if you cannot respond (ref K7Q)"

SEED_OUTAGE = MessageFields(
    nature="SEED excise database unavailable since 06:10 CET",
    outage_estimate="3.5 h (MTD during excise business hours)",
    response="DIGIT data centre is failing over to the secondary site",
    convene="bridge +32 2 555 0100 at 07:00 CET",
    relocation="none",
    instructions="Call your team members if you are a team lead",
    tree="taxud-seed",
    service="SEED",
    ref="K7Q",
    person="Contingency Planning Coordinator",
    ack_url="https://notifier.example.org/ack/abc123",
)


def test_reference_codes_are_short_unambiguous_and_distinct() -> None:
    codes = [reference_code(seed) for seed in range(REF_SPACE)]
    assert len(set(codes)) == REF_SPACE
    for code in codes:
        assert re.fullmatch(r"[A-Z2-9]{3}", code)
        assert not set(code) & set("0O1IL")
    assert reference_code(0) != reference_code(1)
    assert reference_code(5) == reference_code(5 + REF_SPACE)


def test_default_sms_carries_nist_content_and_ends_with_grammar() -> None:
    sms = render(MessageKind.ACTIVATION, SMS, SEED_OUTAGE)
    assert sms.text.endswith(GRAMMAR)
    for part in ("SEED", "unavailable since 06:10", "3.5 h", "failing over", "07:00", "team lead"):
        assert part in sms.text
    assert "{" not in sms.text


def test_a_sentence_with_an_empty_field_is_left_out_unknown_placeholders_stay_visible() -> None:
    templates = Templates(
        activation=Template(
            sms="{service} DOWN: {nature}. ETA {outage_estimate}. {relocation}. See {runbok}.",
            voice="Attention {person}. {nature}.",
            email_body="Nature: {nature}\nOutage estimate: {outage_estimate}\n\nConvene: {convene}\n"
            "Ref {ref}",
        )
    )
    fields = MessageFields(service="TARIC", nature="tariff lookups failing", ref="M3T")
    sms = render(MessageKind.ACTIVATION, SMS, fields, templates)
    assert sms.text.startswith("TARIC DOWN: tariff lookups failing. See {runbok}. Reply 1")
    assert sms.text.endswith("(ref M3T)")
    voice = render(MessageKind.ACTIVATION, VOICE, fields, templates)
    assert voice.text == "tariff lookups failing."
    email = render(MessageKind.ACTIVATION, EMAIL, fields, templates)
    assert email.text.startswith("Nature: tariff lookups failing\n\nRef M3T")


def test_a_template_left_with_nothing_falls_back_to_the_built_in_text() -> None:
    templates = Templates(activation=Template(sms="Estimate {outage_estimate}.", email_subject="{convene}"))
    fields = MessageFields(nature="SEED excise database unavailable", service="SEED", ref="K7Q")
    assert render(MessageKind.ACTIVATION, SMS, fields, templates).text.startswith(
        "Continuity alert for SEED: SEED excise database unavailable."
    )
    subject = render(MessageKind.ACTIVATION, EMAIL, fields, templates).subject
    assert subject == "SEED: SEED excise database unavailable (ref K7Q)"


def test_malformed_template_does_not_raise() -> None:
    templates = Templates(activation=Template(sms="EOS {nature} } {unclosed", email_subject="{0} {nature!r}"))
    fields = MessageFields(nature="declarations rejected", ref="K7Q")
    assert render(MessageKind.ACTIVATION, SMS, fields, templates).text.startswith(
        "EOS declarations rejected } {unclosed"
    )
    subject = render(MessageKind.ACTIVATION, EMAIL, fields, templates).subject
    assert subject == "{0} declarations rejected"


def _drill_all(
    templates: Templates | None, kind: MessageKind, activation_kind: ActivationKind
) -> list[RenderedMessage]:
    fields = MessageFields(
        nature="quarterly notification drill", service="SEED", tree="taxud-seed", ref="K7Q"
    )
    return [render(kind, channel, fields, templates, activation_kind) for channel in (SMS, VOICE, EMAIL)]


def test_drill_is_marked_in_every_channel_even_against_templates() -> None:
    hostile = Templates(
        drill=Template(sms="{nature}", voice="{nature}", email_subject="{nature}", email_body="{nature}"),
        deactivation=Template(sms="All clear", voice="All clear", email_subject="All clear"),
    )
    for templates in (None, hostile):
        sms, voice, email = _drill_all(templates, MessageKind.DRILL, ActivationKind.INCIDENT)
        assert sms.text.startswith("DRILL: ")
        assert voice.text.startswith("This is a drill.")
        assert email.subject is not None and email.subject.startswith("[DRILL]")
        assert email.text.startswith("THIS IS A DRILL.")
        # every later message of a drill activation stays marked, e.g. the return to normal
        sms, voice, email = _drill_all(templates, MessageKind.DEACTIVATION, ActivationKind.DRILL)
        assert sms.text.startswith("DRILL: ") and voice.text.startswith("This is a drill.")
        assert email.subject is not None and email.subject.startswith("[DRILL]")


def test_drill_marking_is_not_doubled() -> None:
    templates = Templates(drill=Template(sms="DRILL: {nature}", voice="This is a drill. {nature}"))
    sms, voice, _ = _drill_all(templates, MessageKind.DRILL, ActivationKind.DRILL)
    assert sms.text.count("DRILL") == 1
    assert voice.text.lower().count("this is a drill") == 1


def test_drill_falls_back_to_activation_template_per_channel() -> None:
    templates = Templates(activation=Template(sms="Activation text {service}"))
    sms, _, _ = _drill_all(templates, MessageKind.DRILL, ActivationKind.DRILL)
    assert sms.text.startswith("DRILL: Activation text SEED")


def test_test_activations_are_marked_too() -> None:
    sms, voice, email = _drill_all(None, MessageKind.ACTIVATION, ActivationKind.TEST)
    assert sms.text.startswith("TEST: ")
    assert voice.text.startswith("This is a test.")
    assert email.subject is not None and email.subject.startswith("[TEST]")


def test_incident_messages_are_not_marked() -> None:
    sms, voice, email = _drill_all(None, MessageKind.ACTIVATION, ActivationKind.INCIDENT)
    assert not sms.text.startswith("DRILL") and not voice.text.lower().startswith("this is a drill")
    assert email.subject is not None and not email.subject.startswith("[")


def test_long_sms_is_cut_in_the_body_never_the_grammar() -> None:
    fields = MessageFields(nature="x" * 5000, service="EOS", ref="K7Q")
    for kind, activation_kind in [
        (MessageKind.ACTIVATION, ActivationKind.INCIDENT),
        (MessageKind.DRILL, ActivationKind.DRILL),
    ]:
        text = render(kind, SMS, fields, activation_kind=activation_kind).text
        assert len(text) == SMS_MAX_CHARS
        assert text.endswith("... " + GRAMMAR)
        if activation_kind is ActivationKind.DRILL:
            assert text.startswith("DRILL: ")


@given(st.text(max_size=3000), st.sampled_from(list(MessageKind)), st.sampled_from(list(ActivationKind)))
def test_sms_always_fits_and_keeps_its_ending(
    nature: str, kind: MessageKind, activation: ActivationKind
) -> None:
    fields = MessageFields(nature=nature, ref="K7Q", node="recovery-team")
    templates = Templates(activation=Template(sms=nature), update=Template(sms=nature))
    text = render(kind, SMS, fields, templates, activation).text
    assert len(text) <= SMS_MAX_CHARS
    assert text.endswith("(ref K7Q)")


def test_informational_kinds() -> None:
    tried = "Ana Garcia declined; Pieter Peeters: SMS +3247*****12 delivered, no answer, call +3247*****12"
    head = "outage-assessment-team could not be reached: nobody acknowledged."
    fields = MessageFields(
        node="outage-assessment-team",
        tree="taxud-seed",
        service="SEED",
        ref="K7Q",
        instructions="Reply 1 if you can attend within 1 hour",
        extra={"tried": tried},
    )
    notice = render(MessageKind.UNREACHABLE_NOTICE, SMS, fields).text
    assert notice == f"{head} Tried: {tried}. (ref K7Q)"
    assert "Reply 1" not in notice
    back = render(MessageKind.DEACTIVATION, EMAIL, fields)
    assert back.subject is not None and back.subject.startswith("Return to normal")
    assert "Return to normal" in back.text
    done = render(MessageKind.COMPLETED_NOTICE, VOICE, fields)
    assert "taxud-seed is complete" in done.text
    assert "Reply 1 if you can attend" not in done.text  # the outcome, never the responders' instructions
    outcome = MessageFields(
        tree="taxud-seed",
        ref="K7Q",
        extra={
            "rule": "every required node",
            "counts": "6 of 7 nodes acknowledged, 1 unreachable",
            "unreached": "Network Recovery Team",
            "elapsed": "12m of the 45m limit",
        },
    )
    assert render(MessageKind.COMPLETED_NOTICE, SMS, outcome).text == (
        "Call tree taxud-seed is complete (every required node met). "
        "6 of 7 nodes acknowledged, 1 unreachable. Not reached: Network Recovery Team. "
        "Took 12m of the 45m limit. (ref K7Q)"
    )


def test_email_contains_ack_link_in_text_and_html_escaped() -> None:
    fields = MessageFields(
        nature="SEED <db> & queue down",
        service="SEED",
        ref="K7Q",
        ack_url="https://notifier.example.org/ack/t?x=1&y=2",
    )
    email = render(MessageKind.ACTIVATION, EMAIL, fields)
    assert fields.ack_url in email.text
    assert email.html is not None
    assert '<a href="https://notifier.example.org/ack/t?x=1&amp;y=2">' in email.html
    assert "&lt;db&gt; &amp; queue" in email.html and "<db>" not in email.html
    assert email.subject == "SEED: SEED <db> & queue down (ref K7Q)"


def test_email_without_ack_url_has_no_link() -> None:
    email = render(MessageKind.ACTIVATION, EMAIL, MessageFields(nature="TARIC slow", ref="K7Q"))
    assert "Acknowledge" not in email.text


def test_sms_replaces_typographic_punctuation_to_stay_gsm7() -> None:
    templates = Templates(activation=Template(sms="SEED’s DB — “down”…"))
    text = render(MessageKind.ACTIVATION, SMS, MessageFields(ref="K7Q"), templates).text
    assert text.startswith('SEED\'s DB - "down"...')
    assert sms_segments(text) == 1


def test_segment_counts() -> None:
    assert sms_segments("") == 1
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3
    assert sms_segments("€" * 80) == 1  # extension chars cost two septets: 160
    assert sms_segments("€" * 81) == 2
    assert sms_segments("a" * 152 + "€" + "a" * 9) == 2  # escape pair not split: 152 + 2 > 153
    assert sms_segments("ą" * 70) == 1  # UCS-2
    assert sms_segments("ą" * 71) == 2
    assert sms_segments("ą" * 134) == 2
    assert sms_segments("ą" * 135) == 3
    assert sms_segments("😀" * 35) == 1  # a surrogate pair is two UCS-2 units
    assert sms_segments("😀" * 36) == 2

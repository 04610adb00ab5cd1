"""Render what a person reads or hears, per message kind and channel.

Templates come from the call tree (`Templates`: per kind, per channel, with `{field}`
placeholders named in `content.py`). Rendering never fails and never shows an empty label: a
sentence (or a line) of a template whose field has no value is left out, in every channel, so
"Estimate {outage_estimate}." disappears rather than reading "Estimate ."; an unknown placeholder
stays visible (so a typo shows up in a drill instead of vanishing), and a malformed template is
used as it is. Some parts are not the template's to decide, so they are added after it:

- a drill (or test) is marked plainly in every channel - `DRILL:` before an SMS, "This is a
  drill." before a call, `[DRILL]` before an email subject - because people act on these
  messages, and a template can never drop the marking;
- an SMS ends with the reply grammar and the reference code, because replies carry nothing else
  that ties them to an activation, and is kept within Twilio's 1600 characters by cutting the
  body, never the grammar;
- an email carries the acknowledgement link when one is given.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum

from notifier.domain.calltree import ActivationKind, Templates
from notifier.domain.content import CONTENT_FIELDS, SYSTEM_FIELDS
from notifier.domain.plan import ChannelKind

# Reference codes: letter, digit, letter; no 0/O/1/I/L, so they are read aloud and typed back
# without mistakes, and the middle digit keeps them from ever spelling a reply word (YES, ACK).
REF_LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ"
REF_DIGITS = "23456789"
REF_PATTERN = "[A-HJKMNP-Z][2-9][A-HJKMNP-Z]"
REF_SPACE = len(REF_LETTERS) * len(REF_DIGITS) * len(REF_LETTERS)  # 4232
_REF_STRIDE = 2017  # prime and coprime with REF_SPACE: consecutive seeds give unrelated codes

SMS_MAX_CHARS = 1600  # Twilio refuses longer bodies
_ELLIPSIS = "..."  # not "…", which is outside GSM-7 and would turn the whole SMS into UCS-2


def reference_code(seed: int) -> str:
    """A short code such as `K7Q`; any REF_SPACE consecutive seeds give distinct codes."""
    index = (seed * _REF_STRIDE) % REF_SPACE
    first, rest = divmod(index, len(REF_DIGITS) * len(REF_LETTERS))
    digit, last = divmod(rest, len(REF_LETTERS))
    return REF_LETTERS[first] + REF_DIGITS[digit] + REF_LETTERS[last]


class MessageKind(StrEnum):
    ACTIVATION = "activation"
    UPDATE = "update"
    DRILL = "drill"
    DEACTIVATION = "deactivation"  # return to normal
    UNREACHABLE_NOTICE = "unreachable_notice"  # to the coordinator/parent: a node could not be reached
    COMPLETED_NOTICE = "completed_notice"  # to the coordinator: the tree is complete
    STAND_DOWN = "stand_down"  # to people still being tried: a first/quorum rule is met
    LATE_REPLY = "late_reply"  # the SMS answer to a reply that came after completion
    WHICH_ONE = "which_one"  # the SMS answer when a reply could be for several incidents
    INVOCATION = "invocation"  # to the invocation authority: invoke the plan (1) or stand by (2)?
    DECISION_NOTICE = "decision_notice"  # to the coordinator: the authority decided to stand by


EXPECTS_REPLY = frozenset(
    {MessageKind.ACTIVATION, MessageKind.UPDATE, MessageKind.DRILL, MessageKind.INVOCATION}
)


@dataclass(frozen=True)
class MessageFields:
    """The content NIST SP 800-34 asks a call-tree message to carry, plus addressing fields."""

    nature: str = ""  # nature of the event / emergency
    outage_estimate: str = ""
    response: str = ""  # response details: what is being done
    convene: str = ""  # where and when to convene
    bridge: str = ""  # conference bridge
    relocation: str = ""  # relocation instructions, if any
    instructions: str = ""  # e.g. instructions to continue the call tree
    in_charge: str = ""  # who is in charge
    tree: str = ""
    service: str = ""
    ref: str = ""
    person: str = ""
    node: str = ""
    ack_url: str = ""
    scenario: str = ""  # a drill's exercise scenario (exercise.py): sent with its messages, marked DRILL
    extra: Mapping[str, str] = field(default_factory=dict)

    def as_mapping(self) -> dict[str, str]:
        """Every known field (empty when absent, so its sentence is left out), then the extras."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        known = dict.fromkeys((*CONTENT_FIELDS, *SYSTEM_FIELDS), "")
        return {**known, **dict(self.extra), **values}


@dataclass(frozen=True)
class RenderedMessage:
    channel: ChannelKind
    text: str  # SMS body, voice script, or email plain text
    subject: str | None = None
    html: str | None = None


class _SafeFormatter(string.Formatter):
    """`str.format` that leaves out what would show an empty field and keeps unknown names visible."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def render(self, template: str) -> str:
        """Each line, sentence by sentence; a sentence with an empty known field is left out, and a
        line left with nothing is dropped (blank lines between paragraphs stay, once)."""
        lines: list[str] = []
        for line in template.split("\n"):
            if not line.strip():
                if lines and lines[-1]:
                    lines.append("")
                continue
            kept = [text for text in (self._sentence(s) for s in _SENTENCE_END.split(line)) if text]
            if kept:
                lines.append(" ".join(kept))
        return "\n".join(lines).strip()

    def _sentence(self, template: str) -> str | None:
        try:
            parsed = list(self.parse(template))
        except ValueError:  # stray brace: substitute plain `{name}` only
            names = re.findall(r"\{(\w+)\}", template)
            if any(n in self._values and not self._values[n].strip() for n in names):
                return None
            return re.sub(r"\{(\w+)\}", lambda m: self._values.get(m.group(1), m.group(0)), template)
        out: list[str] = []
        for literal, name, spec, conversion in parsed:
            out.append(literal)
            if name is None:
                continue
            if name in self._values:
                value = self._values[name].strip()
                if not value:
                    return None
                out.append(self._format(value, spec or ""))
            else:
                out.append(
                    "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
                )
        return "".join(out).strip()

    @staticmethod
    def _format(value: str, spec: str) -> str:
        try:
            return format(value, spec)
        except ValueError:
            return value


#: where a template sentence ends: after . ! or ? followed by a space (a field's own text is never
#: split, because only the template is)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _join(*parts: str) -> str:
    return " ".join(_sentence(p) for p in parts if p.strip())


def _subject_of(kind: MessageKind, v: Mapping[str, str]) -> str:
    what = v["service"] or v["tree"] or "call tree"
    ref = f" (ref {v['ref']})" if v["ref"] else ""
    titles = {
        MessageKind.ACTIVATION: f"{what}: {v['nature'] or 'call tree activated'}",
        MessageKind.DRILL: f"{what}: {v['scenario'] or v['nature'] or 'notification drill'}",
        MessageKind.UPDATE: f"Update - {what}: {v['nature'] or 'new information'}",
        MessageKind.DEACTIVATION: f"Return to normal - {what}",
        MessageKind.UNREACHABLE_NOTICE: f"{v['node'] or 'A call-tree node'} could not be reached",
        MessageKind.COMPLETED_NOTICE: f"Call tree {v['tree'] or what} complete",
        MessageKind.STAND_DOWN: f"No need to answer - {what}",
        MessageKind.LATE_REPLY: f"Already covered - {what}",
        MessageKind.WHICH_ONE: "Which incident?",
        MessageKind.INVOCATION: f"Invoke the continuity plan? {v['nature'] or what}",
        MessageKind.DECISION_NOTICE: f"Continuity plan not invoked - {what}",
    }
    return titles[kind] + ref


def _default_body(kind: MessageKind, v: Mapping[str, str]) -> str:
    """Built-in text when the tree has no template: only the fields that have values."""
    what = v["service"] or v["tree"]
    if kind is MessageKind.UNREACHABLE_NOTICE:
        node = v["node"] or "A call-tree node"
        tried = f"Tried: {v['tried']}" if v["tried"] else ""
        return _join(f"{node} could not be reached: nobody acknowledged", tried)
    if kind is MessageKind.COMPLETED_NOTICE:
        return _join(
            f"Call tree {v['tree'] or what} is complete" + (f" ({v['rule']} met)" if v["rule"] else ""),
            v["counts"],
            f"Not reached: {v['unreached']}" if v["unreached"] else "",
            f"Took {v['elapsed']}" if v["elapsed"] else "",
        )
    if kind is MessageKind.STAND_DOWN:
        return _join(
            f"No need to answer: {what} has the confirmations it needs"
            + (f" ({v['rule']} met)" if v["rule"] else ""),
            "Thank you",
        )
    if kind is MessageKind.LATE_REPLY:
        return _join(f"Thank you: already covered, {what} is complete", "No action is needed")
    if kind is MessageKind.INVOCATION:
        return _join(
            v["nature"] or what,
            f"Expected outage {v['outage_estimate']}" if v["outage_estimate"] else "",
            f"Criteria: {v['criteria']}" if v["criteria"] else "",
        )
    if kind is MessageKind.DECISION_NOTICE:
        return _join(
            f"{v['by'] or 'The invocation authority'} decided to {v['decision'] or 'stand by'}: "
            f"{what} is not invoked" + (f" for {v['nature']}" if v["nature"] else ""),
        )
    if kind is MessageKind.WHICH_ONE:
        return _join(f"Which incident? {v['incidents']}" if v["incidents"] else "Which incident?")
    if kind is MessageKind.DEACTIVATION:
        return _join(
            f"Return to normal: {what} is back in service" if what else "Return to normal",
            "The call tree is closed; no further action is needed",
            v.get("message", ""),
        )
    heads = {MessageKind.UPDATE: "Update", MessageKind.DRILL: "Notification drill"}
    head = heads.get(kind, "Continuity alert")
    nature = v["nature"]
    labelled = (
        ("Scenario", "scenario" if kind is MessageKind.DRILL else ""),
        ("Expected outage", "outage_estimate"),
        ("", "message"),
        ("", "response"),
        ("Convene", "convene"),
        ("Bridge", "bridge"),
        ("Relocation", "relocation"),
        ("", "instructions"),
        ("In charge", "in_charge"),
    )
    if what and nature:
        first = f"{head} for {what}: {nature}"
    else:
        first = f"{head}: {nature or what}" if nature or what else head
    rest = (f"{label}: {v[name]}" if label and v.get(name) else v.get(name, "") for label, name in labelled)
    return _join(first, *rest)


def _template_text(templates: Templates | None, kind: MessageKind, attribute: str) -> str | None:
    """The tree's template for this kind and channel part; a drill falls back to the activation's."""
    if templates is None or kind.value not in Templates.model_fields:
        return None
    text: str | None = getattr(getattr(templates, kind.value), attribute)
    if (text is None or not text.strip()) and kind is MessageKind.DRILL:
        text = getattr(templates.activation, attribute)
    return text if text and text.strip() else None


def _marking(kind: MessageKind, activation_kind: ActivationKind) -> str | None:
    if kind is MessageKind.DRILL or activation_kind is ActivationKind.DRILL:
        return "DRILL"
    return "TEST" if activation_kind is ActivationKind.TEST else None


def reply_grammar(ref: str, kind: MessageKind = MessageKind.ACTIVATION) -> str:
    asked = (
        "Reply 1 to invoke the continuity plan, 2 to stand by"
        if kind is MessageKind.INVOCATION
        else "Reply 1 to confirm, 2 if you cannot respond"
    )
    return asked + (f" (ref {ref})" if ref else "")


def render(
    kind: MessageKind,
    channel: ChannelKind,
    message: MessageFields,
    templates: Templates | None = None,
    activation_kind: ActivationKind = ActivationKind.INCIDENT,
) -> RenderedMessage:
    """Render one message; drill/test marking, SMS grammar and ack link are always added."""
    values = message.as_mapping()
    formatter = _SafeFormatter(values)
    marking = _marking(kind, activation_kind)

    def pick(attribute: str, default: str) -> str:
        text = _template_text(templates, kind, attribute)
        rendered = (formatter.render(text) if text else "") or default
        scenario = values["scenario"].strip()
        if marking == "DRILL" and scenario and scenario not in rendered and attribute != "email_subject":
            return f"{_sentence('Scenario: ' + scenario)} {rendered}"  # the exercise, never mistaken for real
        return rendered

    if channel is ChannelKind.SMS:
        body = pick("sms", _default_body(kind, values))
        return RenderedMessage(channel, _sms(body, kind, values["ref"], marking))
    if channel is ChannelKind.VOICE:
        script = pick("voice", _default_body(kind, values))
        if kind is MessageKind.INVOCATION:  # the call's menu only says 1 and 2: say what they mean
            script = _join(script, "Press 1 to invoke the continuity plan, 2 to stand by")
        if marking and not script.lower().startswith(f"this is a {marking.lower()}"):
            script = f"This is a {marking.lower()}. {script}"
        return RenderedMessage(channel, script)
    subject = pick("email_subject", _subject_of(kind, values))
    text = pick("email_body", _default_body(kind, values))
    if marking:
        if not subject.upper().startswith(f"[{marking}]"):
            subject = f"[{marking}] {subject}"
        text = f"THIS IS A {marking}.\n\n{text}"
    if values["ack_url"] and values["ack_url"] not in text:
        text += f"\n\nAcknowledge or decline: {values['ack_url']}"
    return RenderedMessage(
        channel, text, subject=" ".join(subject.split()), html=_html(text, values["ack_url"])
    )


def _sms(body: str, kind: MessageKind, ref: str, marking: str | None) -> str:
    body = to_gsm_punctuation(" ".join(body.split()))
    prefix = f"{marking}: " if marking else ""
    if marking and body.upper().startswith(prefix.upper()):
        body = body[len(prefix) :]
    suffix = reply_grammar(ref, kind) if kind in EXPECTS_REPLY else (f"(ref {ref})" if ref else "")
    if suffix and body.endswith(suffix):
        body = body[: -len(suffix)].rstrip()
    room = SMS_MAX_CHARS - len(prefix) - (len(suffix) + 1 if suffix else 0)
    if len(body) > room:
        body = body[: max(room - len(_ELLIPSIS), 0)].rstrip() + _ELLIPSIS
    return prefix + body + (f" {suffix}" if suffix else "")


def _html(text: str, ack_url: str) -> str:
    escaped = html.escape(text)
    if ack_url:
        url = html.escape(ack_url)
        escaped = escaped.replace(url, f'<a href="{url}">{url}</a>')
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in escaped.split("\n\n"))
    return f"<!DOCTYPE html><html><body>{paragraphs}</body></html>"


# --- SMS encoding -------------------------------------------------------------------------

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # each costs two septets (escape + char)
_GSM_PUNCTUATION = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)


def to_gsm_punctuation(text: str) -> str:
    """Replace typographic punctuation that would force UCS-2 (halving the segment size)."""
    return text.translate(_GSM_PUNCTUATION)


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def sms_segments(text: str) -> int:
    """Billed segments: GSM-7 160/153 septets, else UCS-2 70/67 UTF-16 units; never split a char."""
    if not text:
        return 1
    if is_gsm7(text):
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, multi = 160, 153
    else:
        units = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, multi = 70, 67
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for unit in units:
        if used + unit > multi:
            segments, used = segments + 1, 0
        used += unit
    return segments

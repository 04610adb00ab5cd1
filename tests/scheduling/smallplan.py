"""A small plan and call tree written by the tests, so that drill figures are exact and fast.

Numbers are placeholders in the +32 470 99x xxx range the example plan uses (sandbox only);
addresses are @example.org.
"""

from __future__ import annotations

from pathlib import Path

NUMBERS = {
    "p-adams": "+32470990101",
    "p-baert": "+32470990102",
    "p-claes": "+32470990103",
    "p-dubois": "+32470990104",
    "p-eyck": "+32470990105",
    "p-vendor": "+32470990106",
    "p-owner": "+32470990107",
}
EMAILS = {person: f"{person.removeprefix('p-')}@example.org" for person in NUMBERS}
EMAILS["p-chair"] = "chair@example.org"


def _person(
    person_id: str,
    name: str,
    *,
    email: bool = True,
    verified: str | None = "2026-03-01",
    affiliation: str = "",
) -> str:
    number = NUMBERS[person_id]
    contacts = [
        f"{{kind: sms, address: '{number}', label: mobile}}",
        f"{{kind: voice, address: '{number}', label: mobile}}",
    ]
    if email:
        contacts.append(f"{{kind: email, address: {EMAILS[person_id]}}}")
    lines = [f"  - id: {person_id}", f"    name: {name}", f"    contacts: [{', '.join(contacts)}]"]
    if verified:
        lines.append(f"    last_verified: {verified}")
    if affiliation:
        lines.append(f"    affiliation: {affiliation}")
    return "\n".join(lines)


def write_drill_plan(directory: Path, time_limit: str = "30m") -> tuple[Path, Path]:
    """Five staff in a broadcast tree plus a vendor contact the drill must leave out."""
    people = [
        _person("p-adams", "Anna Adams"),
        _person("p-baert", "Bram Baert"),
        _person("p-claes", "Chris Claes", email=False),
        _person("p-dubois", "Dana Dubois"),
        _person("p-eyck", "Eva Eyck"),
        _person("p-vendor", "Victor Vendor", affiliation="v-acme"),
        "  - id: p-chair\n    name: Charlotte Chair\n"
        "    contacts: [{kind: email, address: chair@example.org}]",
        _person("p-owner", "Olivia Owner"),
    ]
    plan = directory / "plan.yaml"
    plan.write_text(
        "organisation:\n"
        "  name: TAXUD drill trial\n"
        "  timezone: Europe/Brussels\n"
        "  report_recipients: [p-chair]\n"
        "people:\n" + "\n".join(people) + "\n"
        "roles:\n"
        "  - {id: vendor-support, name: Vendor support desk, primary: p-vendor}\n"
        "vendors:\n"
        "  - {id: v-acme, name: Acme Hosting, contract_number: TAXUD/2026/001, contacts: [p-vendor],\n"
        "     sla_response_hours: 4, sla_onsite_hours: 24}\n"
    )
    tree = directory / "tree.yaml"
    tree.write_text(
        "policies:\n"
        "  - id: drill-policy\n"
        "    methods: [{kind: sms, wait: 3m}, {kind: voice, wait: 2m}, {kind: email, wait: 2m}]\n"
        "    rounds: 1\n"
        "    respect_hours: false\n"
        "    use_alternates: false\n"
        "calltrees:\n"
        "  - id: seed-drill\n"
        "    name: SEED service desk drill tree\n"
        "    mode: broadcast\n"
        f"    time_limit: {time_limit}\n"
        "    policy: drill-policy\n"
        "    nodes:\n"
        "      - person: p-adams\n"
        "      - person: p-baert\n"
        "      - person: p-claes\n"
        "      - person: p-dubois\n"
        "      - person: p-eyck\n"
        "      - role: vendor-support\n"
        "        required: false\n"
        "  - id: warm-up\n"
        "    name: Warm-up (first use of every provider path)\n"
        "    mode: broadcast\n"
        "    policy: drill-policy\n"
        "    nodes:\n"
        "      - person: p-owner\n"
    )
    return plan, tree

"""`notifier plan export --appendices`: printable contact lists, call trees and record of changes."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from typer.testing import CliRunner

from notifier.cli import app
from notifier.plan.loader import load
from notifier.store.db import make_engine, session_factory
from notifier.store.plans import PlanStore
from notifier.upkeep.reviews import with_verified

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


class Structure(HTMLParser):
    """Collects what the checks need: open/close balance, external references, table cells."""

    VOID: ClassVar[set[str]] = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.external: list[str] = []
        self.headers: list[str] = []
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("data:"):
                self.external.append(value)
        if tag == "script":
            self.external.append("<script>")
        if tag not in self.VOID:
            self.stack.append(tag)
        self._in_th = tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()
        self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.headers.append(data.strip())


def import_example(url: str) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "plan",
            "import",
            str(ROOT / "config" / "plan.yaml"),
            "--url",
            url,
            "--author",
            "p-moreau",
            "--comment",
            "initial plan from the TAXUD ITSCP",
        ],
    )
    assert result.exit_code == 0, result.output

    async def confirm() -> None:  # a second version, as a review reply makes it
        engine = make_engine(url)
        try:
            store = PlanStore(session_factory(engine))
            latest = await store.latest()
            assert latest is not None
            from datetime import date

            plan = with_verified(latest[1], "p-leclercq", date(2026, 11, 2))
            await store.import_plan(plan, "contact review reply (p-leclercq)", "p-leclercq confirmed by SMS")
        finally:
            await engine.dispose()

    asyncio.run(confirm())


def test_appendices_of_the_taxud_plan(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}"
    import_example(url)
    out_dir = tmp_path / "binder"
    out_dir.mkdir()
    result = runner.invoke(
        app,
        [
            "plan",
            "export",
            "--appendices",
            "-o",
            str(out_dir),
            "--url",
            url,
            "--calltrees",
            str(ROOT / "calltrees"),
        ],
    )
    assert result.exit_code == 0, result.output
    html = (out_dir / "plan-appendices.html").read_text()

    parser = Structure()
    parser.feed(html)
    assert parser.errors == [] and parser.stack == []
    assert parser.external == []  # self-contained: prints the same anywhere
    assert "@media print" in html and "page-break-inside: avoid" in html
    assert html.count("Contains personal data") >= 2

    plan = load([ROOT / "config" / "plan.yaml"]).plan
    assert plan is not None
    # Appendix A: NIST columns and sub-rows; every role holder with full (unmasked) contact data
    assert {"Key Personnel", "Contact Information"} <= set(parser.headers)
    for label in ("Work", "Home", "Cellular", "Email"):
        assert f'<td class="sub">{label}</td>' in html
    coordinator = plan.role("iscp-coordinator")
    assert coordinator is not None and coordinator.primary and coordinator.alternates
    assert f"{coordinator.name} - Alternate" in html
    for person_id in coordinator.holders:
        person = plan.person(person_id)
        assert person is not None and person.name in html
        for method in person.contacts:
            assert method.address in html
    # Appendix B: vendors with contract numbers and SLA times
    assert {"Contract number", "SLA response", "SLA on-site"} <= set(parser.headers)
    for vendor in plan.vendors:
        assert vendor.name.replace("&", "&amp;") in html
        if vendor.contract_number:
            assert vendor.contract_number in html
    assert "not agreed" in html  # v-woodgrove has no SLA times yet
    # Appendix C: every call tree as a diagram
    trees = load([ROOT / "calltrees"]).trees
    assert trees is not None
    assert html.count('<ul class="tree">') == len(trees.calltrees)
    for tree in trees.calltrees:
        assert f"({tree.id})" in html
    # Appendix D: the NIST record of changes, newest first
    assert [
        h for h in parser.headers if h in ("Page #", "Change Comment", "Date of Change", "Signature")
    ] == ["Page #", "Change Comment", "Date of Change", "Signature"]
    second, first = html.index("<td>Version 2</td>"), html.index("<td>Version 1</td>")
    assert second < first
    assert "p-leclercq confirmed by SMS" in html and "contact review reply (p-leclercq)" in html
    assert "person p-leclercq: last_verified changed" in html
    # the signature: a person of the plan by name and role; anything else marked as such
    assert "Julien Moreau, ITSM Service Level Manager" in html and "initial plan from the TAXUD ITSCP" in html
    assert "contact review reply (p-leclercq) (not a person in the plan)" in html


def test_appendices_of_an_empty_database_is_a_one_line_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--url", url]).exit_code == 0
    result = runner.invoke(app, ["plan", "export", "--appendices", "--url", url])
    assert result.exit_code == 1
    assert "no plan has been imported yet" in result.output

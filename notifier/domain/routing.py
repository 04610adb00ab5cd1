"""Which call tree an alert starts: the first matching route of the tree set, in file order.

A route matches when every criterion it gives holds (an empty criterion matches anything):

* `services` - the alert's `service` label names the same plan service, by id, name or alias,
  case-insensitively (monitoring says "SPEED", the plan says "SPEED-ECN");
* `severities` - the `severity` label, case-insensitively;
* `sources` - the intake (native, alertmanager, grafana, mqtt) or the alert's `source` label;
* `labels` - every given label has exactly that value;
* `rto_tiers` - the service's BIA RTO tier is one of these (an unknown service has no tier).

The decision carries an urgency derived from the BIA: a tier-1 service (RTO under 3.5 hours in the
seed plan) pages at once; every other service is handled as its route says (which tree, which
policy), so a tier-3 route may notify only a team lead. It also carries the alert's incident key
and the route's correlation rules (`correlation.py`). A route without `match` is a catch-all: put it
last to page someone for alerts no other route takes. An alert bound by an integration key (a
PagerDuty routing key) takes its route or call tree without matching.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from notifier.domain.alerts import Alert
from notifier.domain.calltree import ActivationKind, Invoke, OnResolved, Route, TreeSet
from notifier.domain.correlation import KeyRules, incident_key
from notifier.domain.plan import Plan, Service

PAGE_NOW_TIER = 1


class Urgency(StrEnum):
    PAGE_NOW = "page now"
    AS_ROUTED = "as routed"


class RouteDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    route: str
    calltree: str
    policy: str
    kind: ActivationKind
    on_resolved: OnResolved
    service_id: str | None
    service_name: str | None
    rto_tier: int | None
    urgency: Urgency
    incident_key: str
    rules: KeyRules
    invoke: Invoke = Invoke.AUTO  # ask: the plan's invocation authority decides first


def find_service(plan: Plan, name: str | None) -> Service | None:
    """The plan service that `name` denotes by id, name or alias, ignoring case."""
    if not name:
        return None
    wanted = name.strip().casefold()
    for service in plan.services:
        names = (service.id, service.name, *service.aliases)
        if any(candidate.casefold() == wanted for candidate in names):
            return service
    return None


def _names_service(entry: str, service: Service | None, label: str | None, plan: Plan) -> bool:
    if service is not None:
        named = find_service(plan, entry)
        if named is not None:
            return named.id == service.id
    return label is not None and entry.casefold() == label.strip().casefold()


def route_matches(route: Route, alert: Alert, plan: Plan, service: Service | None) -> bool:
    match = route.match
    label = alert.service
    if match.services and not any(_names_service(e, service, label, plan) for e in match.services):
        return False
    severity = (alert.severity or "").casefold()
    if match.severities and severity not in {s.casefold() for s in match.severities}:
        return False
    if match.sources:
        origins = {alert.source.casefold(), alert.labels.get("source", "").casefold()} - {""}
        if not origins & {s.casefold() for s in match.sources}:
            return False
    if any(alert.labels.get(key) != value for key, value in match.labels.items()):
        return False
    tier = service.rto_tier if service is not None else None
    return not (match.rto_tiers and tier not in match.rto_tiers)


def _candidates(alert: Alert, trees: TreeSet) -> tuple[Route, ...]:
    """The routes to try: all in file order; only its own for an alert bound by an integration key
    (a route, or a call tree: a route of that tree with the defaults, named after it)."""
    if alert.route:
        return tuple(r for r in trees.routes if r.id == alert.route)
    if alert.calltree:
        return (Route(id=f"{alert.calltree}-integration", calltree=alert.calltree),)
    return trees.routes


def key_rules(route: Route) -> KeyRules:
    """The route's correlation settings, as the correlation rules take them."""
    return KeyRules(
        group_window=route.group_window,
        quiet_period=route.quiet_period,
        on_join=route.on_join,
        update_interval=route.update_interval,
        on_resolved=route.on_resolved,
    )


def route_alert(alert: Alert, plan: Plan, trees: TreeSet) -> RouteDecision | None:
    """The decision of the first route that matches `alert`, or None when no route does.

    Routes whose call tree is missing are passed over (the reference check reports them at load).
    """
    service = find_service(plan, alert.service)
    for route in _candidates(alert, trees):
        tree = trees.tree(route.calltree)
        if tree is None or not (alert.route or alert.calltree or route_matches(route, alert, plan, service)):
            continue
        tier = service.rto_tier if service is not None else None
        return RouteDecision(
            route=route.id,
            calltree=tree.id,
            policy=route.policy or tree.policy,
            kind=route.kind,
            on_resolved=route.on_resolved,
            invoke=route.invoke,
            service_id=service.id if service is not None else None,
            service_name=service.name if service is not None else None,
            rto_tier=tier,
            urgency=Urgency.PAGE_NOW if tier == PAGE_NOW_TIER else Urgency.AS_ROUTED,
            incident_key=incident_key(
                route.id, route.incident_key, alert, service.id if service is not None else None
            ),
            rules=key_rules(route),
        )
    return None

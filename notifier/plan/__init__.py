"""Plan and call-tree YAML files -> validated domain objects; every problem carries file:line:column."""

from notifier.plan.loader import Loaded, discover, load, load_plan_text, load_texts
from notifier.plan.problems import Location, Problem

__all__ = ["Loaded", "Location", "Problem", "discover", "load", "load_plan_text", "load_texts"]

"""`EngineService`: the engine as the HTTP layer sees it (implements `EngineAPI`).

It is made of three parts by purpose: `Intake` (alerts and what providers and people send back,
intake_service.py), `Commands` (what coordinators ask the engine to do, commands.py) and `Queries`
(read models, queries.py). Alerts are written to the store before anything else happens, so a 2xx
to Alertmanager means the alert is durable; a failing store raises `StoreUnavailable` and the API
answers 503 so the sender retries.
"""

from __future__ import annotations

from notifier.engine.commands import Commands
from notifier.engine.intake_service import Intake


class EngineService(Commands, Intake):
    """Built as `EngineService(engine, public_base_url)`."""

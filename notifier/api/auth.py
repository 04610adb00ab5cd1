"""Bearer-token authentication and the role rules of the REST API.

Who may do what (DESIGN §5, issue 4):

| role        | post alerts | read activations, plan, reports | start, ack on behalf, cancel, close |
|-------------|-------------|---------------------------------|-------------------------------------|
| integration | yes         | no                              | no                                  |
| viewer      | no          | yes, contact details masked     | no                                  |
| coordinator | no          | yes                             | yes                                 |
| admin       | yes         | yes                             | yes                                 |

A missing, unknown or revoked token is 401; a valid token of the wrong role is 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from notifier.api.context import get_context
from notifier.api.tokens import Role, TokenRecord

ALERT_WRITERS = frozenset({Role.INTEGRATION, Role.ADMIN})
READERS = frozenset({Role.VIEWER, Role.COORDINATOR, Role.ADMIN})
OPERATORS = frozenset({Role.COORDINATOR, Role.ADMIN})

_bearer = HTTPBearer(auto_error=False, description="`notifier token create --role ROLE --name NAME`")


def sees_contacts(principal: TokenRecord) -> bool:
    """Whether this caller may see full phone numbers and email addresses."""
    return principal.role in OPERATORS


def require(roles: frozenset[Role]) -> Callable[..., Awaitable[TokenRecord]]:
    """A dependency admitting only active tokens of one of `roles`."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> TokenRecord:
        unauthorised = HTTPException(
            status_code=401, detail="a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise unauthorised
        try:
            record = await get_context(request).tokens.verify(credentials.credentials)
        except SQLAlchemyError:
            raise HTTPException(
                status_code=503, detail="token store unavailable", headers={"Retry-After": "5"}
            ) from None
        if record is None:
            raise unauthorised
        if record.role not in roles:
            raise HTTPException(status_code=403, detail=f"role {record.role.value!r} may not do this")
        return record

    return dependency

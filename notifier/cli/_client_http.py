"""The coordinator CLI's connection to a running daemon: where it is, which token, what went wrong.

Every failure becomes one `ClientError` whose message is the single line the coordinator sees, so
the commands never print a traceback and every refusal says what to do next (start the daemon,
create a token, fix a field). Precedence of the connection settings, highest first: the `--url` /
`--token` options, `NOTIFIER_API_URL` / `NOTIFIER_API_TOKEN` (or `NOTIFIER_API_TOKEN_FILE`), then the
keys `api_url` / `api_token` of the daemon's config file (`NOTIFIER_CONFIG`, default
`config/notifier.yaml`), then `http://127.0.0.1:8080`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

#: a JSON list of objects (named here: inside ApiClient, `list` is its method)
Rows = list[dict[str, Any]]

DEFAULT_URL = "http://127.0.0.1:8080"
TOKEN_HINT = "create one with `notifier token create --role coordinator --name NAME`"


class ClientError(Exception):
    """A failure to show the coordinator as one line (exit code 1)."""


def _config_file() -> dict[str, Any]:
    path = Path(os.environ.get("NOTIFIER_CONFIG", "config/notifier.yaml"))
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ClientError(f"{path}: cannot read the configuration file: {exc}") from None
    return data if isinstance(data, dict) else {}


def resolve(url: str | None, token: str | None) -> tuple[str, str]:
    """The daemon URL and bearer token to use; refuses to go on without a token."""
    config = _config_file() if not (url and token) else {}
    found_url = url or os.environ.get("NOTIFIER_API_URL") or config.get("api_url") or DEFAULT_URL
    found_token = token or os.environ.get("NOTIFIER_API_TOKEN")
    token_file = os.environ.get("NOTIFIER_API_TOKEN_FILE")
    if not found_token and token_file:
        try:
            found_token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise ClientError(f"NOTIFIER_API_TOKEN_FILE: cannot read {token_file}: {exc.strerror}") from None
    found_token = found_token or config.get("api_token")
    if not found_token:
        raise ClientError(
            "no API token: pass --token, set NOTIFIER_API_TOKEN or api_token in the config file; "
            + TOKEN_HINT
        )
    return str(found_url).rstrip("/"), str(found_token)


def _detail(response: httpx.Response) -> str:
    """The server's explanation: `detail` of FastAPI errors, or `error` plus every field problem."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0] if response.text.strip() else response.reason_phrase
    if not isinstance(body, dict):
        return str(body)
    detail = body.get("detail")
    if isinstance(detail, list):  # FastAPI's own validation format
        return "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg')}" for item in detail
        )
    if detail is not None:
        return str(detail)
    problems = body.get("problems")
    error = str(body.get("error", response.reason_phrase))
    if isinstance(problems, list) and problems:
        return f"{error}: " + "; ".join(str(p) for p in problems)
    return error


@dataclass
class ApiClient:
    """A thin synchronous client of `/api/v1`; one instance per command."""

    url: str
    token: str
    timeout: float = 15.0

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        try:
            response = httpx.request(
                method,
                f"{self.url}{path}",
                json=body,
                params=query or None,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=self.timeout,
            )
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else str(exc) or "cannot connect"
            raise ClientError(
                f"cannot reach the daemon at {self.url}: {reason}; is `notifier serve` running?"
            ) from None
        except httpx.TimeoutException:
            raise ClientError(f"the daemon at {self.url} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot talk to the daemon at {self.url}: {exc}") from None
        return self._result(response)

    def _result(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status < 400:
            try:
                return response.json()
            except ValueError:
                raise ClientError(f"the daemon at {self.url} answered {status} without JSON") from None
        detail = _detail(response)
        if status == 401:
            raise ClientError(f"the daemon at {self.url} refused the token (401: {detail}); {TOKEN_HINT}")
        if status == 403:
            raise ClientError(f"the token may not do this (403: {detail}); use a coordinator or admin token")
        if status == 404:
            raise ClientError(f"not found (404): {detail}")
        if status == 409:
            raise ClientError(f"refused (409): {detail}")
        if status == 422:
            raise ClientError(f"invalid request (422): {detail}")
        raise ClientError(f"the daemon at {self.url} answered {status}: {detail}")

    # --- the endpoints the CLI uses ---------------------------------------------------------
    def start(self, tree: str, kind: str, fields: dict[str, str], reason: str) -> dict[str, Any]:
        body = {"tree": tree, "kind": kind, "fields": fields, "reason": reason}
        result: dict[str, Any] = self.request("POST", "/api/v1/activations", body)
        return result

    def list(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/api/v1/activations", status=status, limit=limit)
        return result

    def get(self, activation_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/api/v1/activations/{quote(activation_id, safe='')}")
        return result

    def ack(self, activation_id: str, person: str, response: str) -> dict[str, Any]:
        body = {"person": person, "response": response}
        result: dict[str, Any] = self.request(
            "POST", f"/api/v1/activations/{quote(activation_id, safe='')}/ack", body
        )
        return result

    def update(self, activation_id: str, text: str, audience: str, fields: dict[str, str]) -> dict[str, Any]:
        body = {"text": text, "audience": audience, "fields": fields}
        result: dict[str, Any] = self.request(
            "POST", f"/api/v1/activations/{quote(activation_id, safe='')}/updates", body
        )
        return result

    def cancel(self, activation_id: str, reason: str) -> dict[str, Any]:
        body = {"reason": reason}
        result: dict[str, Any] = self.request(
            "POST", f"/api/v1/activations/{quote(activation_id, safe='')}/cancel", body
        )
        return result

    def close(self, activation_id: str, message: str | None) -> dict[str, Any]:
        body = {"message": message}
        result: dict[str, Any] = self.request(
            "POST", f"/api/v1/activations/{quote(activation_id, safe='')}/close", body
        )
        return result

    def page_again(self, activation_id: str, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", f"/api/v1/activations/{quote(activation_id, safe='')}/page-again", {"reason": reason}
        )
        return result

    def alerts(self, **filters: Any) -> Rows:
        result: Rows = self.request("GET", "/api/v1/alerts", **filters)
        return result

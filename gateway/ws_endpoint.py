"""Subscriptions over a websocket on ``/graphql``: protocol ``graphql-transport-ws``.

The gate of the websocket, as ``gateway.auth_gate`` is the gate of a POST:

- Who. The API key and purpose come from ``connection_init``'s payload
  (``{"Authorization": "Bearer <key>", "X-Purpose": "INSPECTION"}``, names in any
  case) or else from the upgrade request's headers; neither means the public role,
  served by the public schema (no field classed above OPEN, no ``registrations``).
  A caller the HTTP gate would answer 401 (unknown or malformed key) is closed with
  ``4401``, one it would answer 403 (a purpose not allowed, a demo key from another
  machine) with ``4403`` - the close reason is the refusal's code, nothing else.
- What. Only subscriptions: a query or mutation sent here is refused (error
  ``SUBSCRIPTIONS_ONLY``; send it to ``POST /graphql``, where it is logged and cached
  as every answer). Each subscription start passes what a request passes: the access
  log must be writable for a non-public caller (``AUDIT_UNAVAILABLE``), the policy
  loaded (``POLICY_UPDATING``), the role's rate limit (``RATE_LIMITED``). A non-public
  subscription also ends with ``AUDIT_UNAVAILABLE`` when an event would be delivered
  while the log cannot be written.
- Traced. Each start and each refusal is an access-log entry (operation ``subscribe
  <fields>``), and so is each delivered event (``deliver <field>``, with the
  enterprises and fields it returned). The connection's id is the upgrade request's
  ``X-Request-Id`` or a new one.

Each subscription gets a context made for it, under the policy in force when it
starts; each event a fresh one (``gateway.event_port``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from graphql import GraphQLError, OperationDefinitionNode, OperationType, get_operation_ast, parse
from starlette.datastructures import Headers
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)

from gateway.access_capture import EMPTY, RequestFacts, entry_for, request_facts, summary_of
from gateway.callers import AuthError, Caller
from gateway.event_port import EventPort, FreshRecords
from gateway.events import EventBus
from gateway.graphql_payload import Payload, lone_surrogates
from gateway.logs import request_id
from gateway.loopback_keys import LoopbackOnlyKeys
from gateway.platform_store.writer import AccessLogWriter
from gateway.policy_sync import DatabasePolicies
from gateway.rate_limits import RateLimiter, caller_key
from gateway.runtime import Runtime
from schema.context import RequestContext
from schema.errors import AuditUnavailable
from schema.licensing import LicensingRules

__all__ = ["SubscriptionEndpoint"]

_INIT_TIMEOUT = dt.timedelta(seconds=10)
_CREDENTIALS = ("authorization", "x-purpose")


def _origin_matches(pattern: str, origin: str) -> bool:
    if pattern in ("*", origin):
        return True
    if pattern.endswith(":*"):
        return re.fullmatch(re.escape(pattern[:-2]) + r"(:\d{1,5})?", origin) is not None
    return False


class _Refused(Exception):
    """A subscription start refused with a code, as the HTTP gate would refuse it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> bytes:
        return json.dumps({"errors": [{"message": self.message,
                                       "extensions": {"code": self.code}}]}).encode()


class _Upgrade:
    """The connection before ``connection_init``: the upgrade request alone."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket


def _credentials(headers: Headers, payload: Mapping[str, object]) -> dict[str, str]:
    """Authorization and X-Purpose: from the payload where it names them (any case),
    else from the upgrade request's headers."""
    given = {str(k).lower(): v for k, v in payload.items() if isinstance(v, str)}
    found = {name: headers[name] for name in _CREDENTIALS if name in headers}
    found.update({name: given[name] for name in _CREDENTIALS if name in given})
    return found


def _root_fields(operation: OperationDefinitionNode) -> str:
    names = [s.name.value for s in operation.selection_set.selections
             if hasattr(s, "name") and s.name is not None]
    return ",".join(names)[:150]


class _Connection:
    """An admitted subscriber: who, from where, and its access-log entries."""

    def __init__(self, websocket: WebSocket, caller: Caller, connection_id: str,
                 endpoint: SubscriptionEndpoint) -> None:
        state = websocket.scope["app"].state
        self.state = state
        self.caller = caller
        self.client = websocket.client[0] if websocket.client else ""
        self.connection_id = connection_id
        self.endpoint = endpoint

    @property
    def runtime(self) -> Runtime:
        return cast(Runtime, self.state.runtime)

    def log(self, facts: RequestFacts, status: int, body: bytes,
            context: RequestContext | None, started: float) -> None:
        writer: AccessLogWriter | None = self.state.access_log
        if writer is not None:
            writer.record(entry_for(facts, self.caller, status, body,
                                    EMPTY if context is None else summary_of(context),
                                    (time.perf_counter() - started) * 1000))

    async def check(self) -> None:
        """What a subscription start must pass before it runs (``_Refused`` if not)."""
        writer: AccessLogWriter | None = self.state.access_log
        if writer is not None and self.caller.role != "public" and not writer.healthy():
            raise _Refused(503, "AUDIT_UNAVAILABLE", "The access log cannot be written, so "
                           "only public data is served until it can; retry later.")
        policies: DatabasePolicies | None = self.state.policy_sync
        if policies is not None and not await policies.ready():
            raise _Refused(503, "POLICY_UPDATING",
                           "The access policy is being updated; retry in a moment.")
        limiter: RateLimiter | None = self.state.rate_limiter
        if limiter is not None:
            verdict = await limiter.hit(caller_key(self.caller.principal, (self.client, 0)),
                                        self.caller.role)
            if not verdict.allowed:
                raise _Refused(429, "RATE_LIMITED", verdict.message)

    def context(self, facts: RequestFacts) -> RequestContext:
        """A context for one subscription, with its port to the events."""
        runtime = self.runtime
        context = runtime.new_context(self.caller.clearance)
        bus: EventBus | None = self.state.events
        if bus is None:
            return context  # the resolvers say subscriptions are unavailable

        def delivered(field: str, used: RequestContext) -> None:
            writer: AccessLogWriter | None = self.state.access_log
            if writer is not None and self.caller.role != "public" and not writer.healthy():
                # fail closed, as a request would be refused: who cannot be traced is
                # not told
                raise AuditUnavailable(
                    "The access log cannot be written, so this subscription ends before "
                    "telling more; subscribe again in a moment.")
            self.log(dataclasses.replace(facts, at=dt.datetime.now(dt.UTC),
                                         operation=f"deliver {field}"),
                     200, b"", used, time.perf_counter())

        context.subscriptions = EventPort(bus, runtime, self.caller.clearance,
                                          self.endpoint.licensing, self.endpoint.fresh,
                                          delivered)
        return context


class _Transport(BaseGraphQLTransportWSHandler[Any, None]):
    """strawberry's graphql-transport-ws handler with the gate above. ``self.context``
    is what strawberry hands an operation: the context made for it is put there at
    the operation's start (``run_operation``)."""

    _connection: _Connection | None = None
    _contexts: dict[str, RequestContext]

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out or self.connection_init_received:
            await super().handle_connection_init(message)  # closed as the protocol says
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        self.connection_init_received = True
        endpoint = cast(SubscriptionEndpoint, self.view)
        upgrade = cast(_Upgrade, self.context)
        websocket = upgrade.websocket
        started = time.perf_counter()
        rid = request_id(websocket.headers.get("x-request-id"))
        client = websocket.client
        try:
            caller = endpoint.authenticate(websocket, payload)
        except AuthError as error:
            writer: AccessLogWriter | None = websocket.scope["app"].state.access_log
            if writer is not None:
                facts = request_facts(client[0] if client else "", rid, Payload(),)
                body = json.dumps({"errors": [{"message": error.message,
                                               "extensions": {"code": error.code}}]}).encode()
                writer.record(entry_for(dataclasses.replace(facts, operation="subscribe"),
                                        error.caller, error.status, body, EMPTY,
                                        (time.perf_counter() - started) * 1000))
            await self.websocket.close(code=4401 if error.status == 401 else 4403,
                                       reason=error.code)
            return
        self._connection = _Connection(websocket, caller, rid, endpoint)
        self._contexts = {}
        self.schema = endpoint.schemas(caller.role)
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # 4401 / 4409, as the protocol says
            return
        connection = self._connection
        assert connection is not None  # acknowledged
        started = time.perf_counter()
        if lone_surrogates(message["payload"]):
            # not text: logged without it (no entry could hold it), closed as malformed
            refused = _Refused(400, "BAD_REQUEST", "The subscribe payload is not valid "
                               "Unicode text: a string holds a lone UTF-16 surrogate.")
            facts = request_facts(connection.client, connection.connection_id, Payload())
            connection.log(dataclasses.replace(facts, operation="subscribe"), refused.status,
                           refused.body(), None, started)
            await self.websocket.close(code=4400, reason="Subscribe payload is not Unicode "
                                                         "text: a lone UTF-16 surrogate")
            return
        query = message["payload"]["query"]
        name = message["payload"].get("operationName")
        facts = request_facts(connection.client, connection.connection_id,
                              Payload(query, name, message["payload"].get("variables")))
        try:
            operation = get_operation_ast(parse(query), name)
        except GraphQLError:
            operation = None  # strawberry closes with 4400 and the parser's message
        if operation is None:
            await super().handle_subscribe(message)
            return
        facts = dataclasses.replace(facts, operation=f"subscribe {_root_fields(operation)}")
        try:
            if operation.operation is not OperationType.SUBSCRIPTION:
                raise _Refused(400, "SUBSCRIPTIONS_ONLY",
                               "Only subscriptions are served over the websocket; send "
                               "queries and mutations to POST /graphql.")
            await connection.check()
        except _Refused as refused:
            connection.log(facts, refused.status, refused.body(), None, started)
            await self.send_message({"id": message["id"], "type": "error",
                                     "payload": [{"message": refused.message,
                                                  "extensions": {"code": refused.code}}]})
            return
        self._contexts[message["id"]] = connection.context(facts)
        connection.log(facts, 200, b"", None, started)
        await super().handle_subscribe(message)
        if message["id"] not in self.operations:  # refused (too many on this connection)
            self._contexts.pop(message["id"], None)

    async def run_operation(self, operation: Operation[Any, None]) -> None:
        # strawberry reads self.context before its first await: this operation's own
        self.context = self._contexts.pop(operation.id, self.context)
        await super().run_operation(operation)


class SubscriptionEndpoint(GraphQL[Any, None]):
    """The websocket side of ``/graphql``. ``schemas(role)``: the schema a role is
    served with now (``AuthGate.schema_for``); ``licensing()``: the licensing rules in
    force; ``allowed_origins``: the pages of other origins that may connect (the CORS
    settings' origins; any other cross-origin browser handshake is refused with 403).
    The event bus is the app's (``app.state.events``, made in its lifespan)."""

    graphql_transport_ws_handler_class = _Transport

    def __init__(self, schemas: Callable[[str], BaseSchema], loopback_keys: LoopbackOnlyKeys,
                 licensing: Callable[[], LicensingRules], *,
                 allowed_origins: Sequence[str] = (),
                 init_timeout: dt.timedelta = _INIT_TIMEOUT) -> None:
        super().__init__(schemas("public"), graphql_ide=None,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         connection_init_wait_timeout=init_timeout)
        self.schemas = schemas
        self.licensing = licensing
        self.fresh = FreshRecords()
        self._loopback_keys = loopback_keys
        self._origins = tuple(allowed_origins)

    def is_websocket_origin_allowed(self, request: Any, origin: str) -> bool:
        """A page of another origin may connect when the CORS settings allow it: an
        origin as listed, ``*``, or ``scheme://host:*`` (any port of that host)."""
        return any(_origin_matches(pattern, origin) for pattern in self._origins)

    def authenticate(self, websocket: WebSocket, payload: Mapping[str, object]) -> Caller:
        """The caller of a ``connection_init`` (``AuthError`` when refused)."""
        credentials = _credentials(websocket.headers, payload)
        self._loopback_keys.check(credentials, websocket.client)
        runtime: Runtime = websocket.scope["app"].state.runtime
        return runtime.authenticator.caller(credentials)

    async def get_context(self, request: Any, response: Any) -> Any:
        return _Upgrade(request)

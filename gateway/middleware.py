"""The gateway's ASGI middleware, plain callables wrapping an ASGI app.

* :func:`context_middleware` creates the :class:`~gateway.context.RequestContext` and adds
  ``x-request-id``, ``x-gatehouse-overhead-ms`` and the hooks' ``ctx.response_headers`` to
  every response.
* :func:`error_middleware` is the one exception handler: any
  :class:`~gateway.errors.GatewayError` raised before the response started becomes an
  OpenAI-style error body; anything else becomes a logged 500.
"""

from __future__ import annotations

import logging

from gateway.asgi import ASGIApp, Message, Receive, Scope, Send, raw_json_response
from gateway.context import RequestContext
from gateway.errors import GatewayError, internal

log = logging.getLogger("gateway")

_CTX_KEY = "gatehouse.ctx"


def context_of(scope: Scope) -> RequestContext:
    ctx: RequestContext = scope[_CTX_KEY]
    return ctx


def context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        ctx = RequestContext(scope["method"], scope["path"])
        scope[_CTX_KEY] = ctx

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                ctx.status = message["status"]
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", ctx.request_id.encode()),
                    (b"x-gatehouse-overhead-ms", f"{ctx.overhead_ms():.3f}".encode()),
                    *(
                        (k.encode("latin-1"), v.encode("latin-1"))
                        for k, v in ctx.response_headers.items()
                    ),
                ]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def error_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await app(scope, receive, tracking_send)
        except GatewayError as err:
            if started:
                log.error("error after the response started: %r", err)
                return
            await raw_json_response(err.status, err.body(), err.headers)(send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                failure = internal()
                await raw_json_response(failure.status, failure.body())(send)

    return middleware

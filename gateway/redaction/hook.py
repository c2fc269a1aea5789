"""The gateway hook: redacts every prompt before it leaves, and (optionally) the answers.

Registered as ``gateway.redaction.hook:build_redaction_hook``. It never returns ``None``:
without a ``redaction`` section the gateway redacts with the defaults (mode ``redact``).

* ``transform_request`` opens the request's :class:`RequestRedaction` (the key's mode beats
  its team's, which beats the default), rewrites every text of the outgoing body and, in
  ``block`` mode, refuses with 400 ``pii_detected``. A detector failure refuses with 503
  ``redaction_unavailable`` unless ``fail_open`` is set.
* ``transform_response``, ``transform_chunk`` and ``finish_stream`` scan the answer when
  ``scan_responses`` is set and restore placeholders when ``reversible`` is set; streams
  go through :class:`~gateway.redaction.stream.ChunkRedactor`.

Facts for other hooks, in ``ctx.state``: ``"redaction.findings"`` is the request's
``Counter`` of entity type -> count (never values), updated in place while the answer
streams; ``"redaction.mode"`` is the mode applied.
"""

from __future__ import annotations

from gateway.context import RequestContext
from gateway.hooks import Hook, HookServices
from gateway.providers.base import JSON
from gateway.redaction.engine import Redactor
from gateway.redaction.errors import RedactionUnavailable
from gateway.redaction.payload import map_request_texts, map_response
from gateway.redaction.session import RequestRedaction
from gateway.redaction.stream import ChunkRedactor

SESSION_KEY = "redaction"
FINDINGS_KEY = "redaction.findings"
MODE_KEY = "redaction.mode"
_STREAM_KEY = "redaction.stream"


class RedactionHook(Hook):
    name = "redaction"

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def _open(self, ctx: RequestContext) -> RequestRedaction:
        identity = ctx.identity
        try:
            session = self.redactor.session(
                key_mode=identity.redaction if identity is not None else None,
                team=identity.team if identity is not None else None,
            )
        except ValueError:
            raise RedactionUnavailable("the API key's redaction override is not a mode") from None
        ctx.state[SESSION_KEY] = session
        ctx.state[FINDINGS_KEY] = session.findings
        ctx.state[MODE_KEY] = session.mode
        return session

    async def transform_request(self, ctx: RequestContext) -> None:
        session = self._open(ctx)
        if not session.active or ctx.body is None:
            return
        ctx.body = map_request_texts(ctx.op or "chat", ctx.body, session.scan_all)
        session.enforce("request")

    def _answering(self, ctx: RequestContext) -> RequestRedaction | None:
        """The session when this request's answer needs scanning or restoring."""
        session = ctx.state.get(SESSION_KEY)
        if not isinstance(session, RequestRedaction) or not session.active:
            return None
        if not (self.redactor.config.scan_responses or session.reversible):
            return None
        return session

    async def transform_response(self, ctx: RequestContext, body: JSON) -> JSON:
        session = self._answering(ctx)
        if session is None:
            return body
        scan = self.redactor.config.scan_responses

        def answer(text: str) -> str:
            return session.restore(session.scan(text, "response") if scan else text)

        body = map_response(ctx.op or "chat", body, answer)
        session.enforce("response")
        return body

    def _chunks(self, ctx: RequestContext) -> ChunkRedactor | None:
        redactor = ctx.state.get(_STREAM_KEY)
        if isinstance(redactor, ChunkRedactor):
            return redactor
        session = self._answering(ctx)
        if session is None:
            return None
        redactor = ChunkRedactor(session, scan=self.redactor.config.scan_responses)
        ctx.state[_STREAM_KEY] = redactor
        return redactor

    async def transform_chunk(self, ctx: RequestContext, chunk: JSON) -> list[JSON]:
        redactor = self._chunks(ctx)
        return [chunk if redactor is None else redactor.transform(chunk)]

    async def finish_stream(self, ctx: RequestContext) -> list[JSON]:
        redactor = self._chunks(ctx)
        return [] if redactor is None else redactor.finish()


def build_redaction_hook(services: HookServices) -> RedactionHook:
    """The factory for ``HOOK_FACTORIES``; the default config (redact) when the section is
    absent. Raises :class:`~gateway.redaction.errors.RedactionSetupError` at start-up when
    the config asks for Presidio and it is not installed."""
    return RedactionHook(Redactor(services.config.redaction, registry=services.registry))

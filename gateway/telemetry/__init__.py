"""Telemetry: OpenTelemetry traces (GenAI semantic conventions) and Prometheus metrics.

* :mod:`gateway.telemetry.config` - the ``telemetry:`` config section;
* :mod:`gateway.telemetry.metrics` - the metric families, on the app's own registry;
* :mod:`gateway.telemetry.families` - the request path's lock-free counters and histograms;
* :mod:`gateway.telemetry.traces` - the app's tracer provider and one span per request;
* :mod:`gateway.telemetry.endpoint` - ``GET /metrics`` and who may read it;
* :mod:`gateway.telemetry.hook` - the hook that records every request.

Nothing here may block or fail a request: recording happens in memory, spans are exported
by a background batch processor, and every hook method swallows (and logs) its own errors.
"""

"""Webhooks: signed notifications of operational events, delivered in the background.

* :mod:`gateway.webhooks.config` - the ``webhooks:`` config section (a list of endpoints);
* :mod:`gateway.webhooks.events` - the event types and their payloads;
* :mod:`gateway.webhooks.signing` - the HMAC-SHA256 signature, for senders and receivers;
* :mod:`gateway.webhooks.formats` - the JSON envelope and the ServiceNow incident body;
* :mod:`gateway.webhooks.dead_letters` - the table of deliveries that never succeeded;
* :mod:`gateway.webhooks.delivery` - bounded queues, retries with back-off, dead letters;
* :mod:`gateway.webhooks.hook` - wiring: the event bus, circuit breakers, residency refusals.
"""

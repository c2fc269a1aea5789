"""Fake upstreams: real HTTP servers on loopback, one per provider wire format."""

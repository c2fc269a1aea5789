"""Cited, reviewed data behind ``components.residency``.

These modules hold plain literals only (tuples and strings, each table with the official
source it was checked against). Import the typed tables and functions from
``components.residency``; nothing here is a public surface of its own.
"""

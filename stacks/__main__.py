"""Pulumi entry point (``main: stacks/`` in Pulumi.yaml)."""

from stacks.program import main

main()

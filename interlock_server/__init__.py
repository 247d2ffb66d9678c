"""Interlock's entry points: the CLI, the HTTP API and dashboard, and the AWS Lambda handlers."""

__version__ = "0.1.0"

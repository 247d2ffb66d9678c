"""Interlock's built-in plugins: stores, evaluator runners, trigger types, alert sinks, archive.

They are registered through the ``interlock`` entry-point group exactly like third-party plugins.
"""

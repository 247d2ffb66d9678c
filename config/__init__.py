"""Packaged starter content (installed as ``interlock_config``): archetypes, calendars, examples."""

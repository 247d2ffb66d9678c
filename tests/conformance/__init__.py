"""The store conformance suite and one test module per store backend."""

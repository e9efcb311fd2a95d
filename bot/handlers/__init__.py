"""Thin PTB handlers, one module per feature; the logic they call lives in plain async modules."""

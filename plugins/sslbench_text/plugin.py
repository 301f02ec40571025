"""Hook implementations of the built-in text plugin (entry point ``text``)."""
from __future__ import annotations

"""Hook implementations of the built-in audio plugin (entry point ``audio``)."""
from __future__ import annotations

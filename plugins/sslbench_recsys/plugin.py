"""Hook implementations of the built-in recsys plugin (entry point ``recsys``)."""
from __future__ import annotations

"""The ``sslbench`` command line: one module per command group.

- :mod:`~sslbench.cli.main`: the parser, the entry points, how errors end (exit statuses);
- :mod:`~sslbench.cli.common`: exit statuses, the one-line parser, the registry from ``-p`` flags;
- :mod:`~sslbench.cli.run`: ``list`` and ``run``;
- :mod:`~sslbench.cli.results`: ``leaderboard``, ``report``, ``compare``, ``merge``;
- :mod:`~sslbench.cli.data`: ``data list`` and ``data prepare``.
"""
from sslbench.cli.main import build_parser, console_main, main

__all__ = ["build_parser", "console_main", "main"]

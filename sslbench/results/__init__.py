"""What a run produces and how it is read back: rows, statistics, leaderboards, reports.

The readers a third party uses are exported here (``from sslbench.results import read_rows``);
the modules below them, in the order they build on each other:

- :mod:`~sslbench.results.rows`: the row schema, appending and reading ``rows.jsonl``;
- :mod:`~sslbench.results.stats`: the statistical rule (t intervals, paired tests);
- :mod:`~sslbench.results.leaderboard`: rows → comparable tables;
- :mod:`~sslbench.results.compare` and :mod:`~sslbench.results.merge`: two folders against / into each other;
- :mod:`~sslbench.results.charts`, :mod:`~sslbench.results.report`: the report's charts and files.
"""
from sslbench.results.rows import (
    IDENTITY_KEYS,
    REQUIRED_KEYS,
    ROWS_FILE,
    STATUSES,
    append_rows,
    dedupe,
    identity_of,
    make_row,
    read_rows,
)

__all__ = ["IDENTITY_KEYS", "REQUIRED_KEYS", "ROWS_FILE", "STATUSES", "append_rows", "dedupe", "identity_of",
           "make_row", "read_rows"]

"""``python -m sslbench``: the same as the ``sslbench`` console script."""
from sslbench.cli import console_main

if __name__ == "__main__":
    console_main()

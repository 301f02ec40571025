"""``python -m sslbench``: the same as the ``sslbench`` console script."""
import sys

if __name__ == "__main__":
    try:  # importing torch takes seconds; Ctrl-C then ends in one line, like later on
        from sslbench.cli import console_main
    except KeyboardInterrupt:
        sys.stderr.write("sslbench: interrupted\n")
        sys.exit(130)
    console_main()

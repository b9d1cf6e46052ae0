"""``python -m micro_bench``: the command line of the essential ``commands`` plugin."""

from micro_bench.host import main

if __name__ == "__main__":  # pragma: no cover
    main()

"""``python -m micro_bench``."""

from micro_bench_commands.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()

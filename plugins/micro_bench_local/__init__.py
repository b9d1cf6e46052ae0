"""micro-bench bundled plugin: the ``local`` executor (``micro-bench run --executor local``, the default)."""

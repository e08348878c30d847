"""Reporting: summaries, tables, plots and the guide's sections, from result dictionaries.
Never imports a measurement module (``benchmarks.infra``, ``load``, ``reference`` or an entry
point): measurement imports from here, the suite calls the guide after measuring."""

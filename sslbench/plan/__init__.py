"""What a config asks for: the TOML config (:mod:`~sslbench.plan.config`), the grid of compatible
cells it expands to (:mod:`~sslbench.plan.grid`) and their descriptions for ``sslbench list``
(:mod:`~sslbench.plan.listing`). Nothing here imports torch."""

"""Settings modules: `base` (every environment, configured from the environment) and `test`."""

"""Selectors: every read the pages, the API and the reports share."""

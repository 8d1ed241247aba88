"""Packaging for Amazon MWAA."""

"""Deployment assets and tools of the IAM access key rotation pipeline."""

"""Rotation of IAM user access keys across an AWS Organization, for Apache Airflow."""

__version__ = "0.1.0"

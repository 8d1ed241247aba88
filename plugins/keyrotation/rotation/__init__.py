"""Rotate the IAM user access keys of one account (``rotate_account``).

One module per job: ``account`` runs an account end to end, ``user_run`` one user's
plan, ``executor`` makes the changes (or, in a dry run, records them), ``gate`` says
which changes are approved, ``upkeep`` looks after the pipeline's secrets,
``exemption_records`` lists exemptions, ``stores`` finds the secret store, and
``describe`` puts records into words for task logs.
"""

from keyrotation.rotation.account import AccountReport, rotate_account
from keyrotation.rotation.gate import ActionGate

__all__ = ["AccountReport", "ActionGate", "rotate_account"]

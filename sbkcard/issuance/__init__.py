"""Personalisation: applicants, the one-person-one-card registry, issuing cards."""

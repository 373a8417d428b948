"""Touchflow: customer care and multiple-touch follow-up for stores."""

__version__ = "0.1.0"

"""Burgerbegroting: participatory budgeting (Pabulib format, voting rules)."""

"""Burgerberaad: selection by lot with quotas (sortition)."""

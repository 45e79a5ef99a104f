"""Contracts as code: the model of an SLA and the arithmetic of its month."""

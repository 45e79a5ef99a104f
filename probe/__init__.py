"""sla-probe: an independent witness of a vendor's availability SLA."""

__version__ = "0.1.0"

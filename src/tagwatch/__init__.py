"""tagwatch: GPS electronic monitoring: zones, curfews, alerts and evidence."""

__version__ = "0.1.0"

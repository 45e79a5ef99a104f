"""Vendor feeds: the vendor's status page or maintenance calendar, polled and witnessed.

`config` (the models, below `probe.config`), `formats` and `ical` (one parser per format,
pure), `plan` (stored announcements → maintenance entries and declared incidents), `poller`
(the daemon's `vendor-feeds` task), `silences` (Alertmanager API v2). See
docs/vendor-feeds.md.
"""

"""Support terms: severities, support calendars, incidents and the deadlines they start."""

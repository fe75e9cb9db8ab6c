"""HTTP clients for the outreach providers. No Django in here: only requests and parsing."""

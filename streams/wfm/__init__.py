"""Adapters to a Webex WFO-style WFM: its HTTP client and the WFM file."""

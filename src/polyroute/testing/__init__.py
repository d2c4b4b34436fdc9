"""Test helpers shipped with polyroute: loopback stand-in endpoints with scripted faults."""

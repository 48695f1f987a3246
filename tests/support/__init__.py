"""Test support: real databases, a real server on a loopback port, real device agents."""

"""Real services and fixtures the tests run against."""

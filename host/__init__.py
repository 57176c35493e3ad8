"""The crossbox host launcher."""

"""bounced: the bounce processor for a sending platform's return-path host."""

__version__ = "0.1.0"

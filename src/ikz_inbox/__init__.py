"""ikz-inbox: turns the IKZ@Interkommunales.NRW mailbox into a ranked briefing for live events."""

__version__ = "0.1.0"

"""simgate: a self-hosted SMS gateway that turns your own phones and modems into an SMS API."""

__version__ = "0.1.0"

"""The use cases of simgate: the one API that every adapter (HTTP, WebSocket, SOAP, CLI) calls."""

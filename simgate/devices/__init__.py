"""The device side of the server: the WebSocket endpoint and live device sessions."""

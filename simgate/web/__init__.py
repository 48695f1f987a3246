"""Pages served to people in a browser (the encrypted-message page, later the dashboard)."""

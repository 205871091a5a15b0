"""The HTTP API and the web page it serves; the same app runs locally and under Mangum."""

"""One router per resource; ``api.app`` includes the ones the mode serves."""

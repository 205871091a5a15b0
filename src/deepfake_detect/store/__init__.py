"""Where media and results live: behind two small interfaces with local and AWS implementations."""

"""The local environment: folder + SQLite stores, the local model registry and retraining, the
background worker. Nothing here imports boto3."""

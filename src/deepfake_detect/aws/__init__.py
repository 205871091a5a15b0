"""Glue between the core and AWS: clients, S3 event parsing, error classification, the detect worker.

Nothing here is imported by the core or the local service; it needs the ``aws`` extra (boto3,
aws-lambda-powertools).
"""

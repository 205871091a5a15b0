"""The model registry and the retraining loop: records of every training job, the gate that
decides whether a candidate replaces the current model, promotion to immutable versioned keys
behind one pointer, rollback, the live model swap on the detect side, and reviewer feedback.

Local (folder + SQLite + pointer file) and AWS (S3 + DynamoDB + SSM) implementations sit behind
the same ports (``base.py``), so the CLI's ``retrain`` and the Lambda trigger run the same steps.
"""

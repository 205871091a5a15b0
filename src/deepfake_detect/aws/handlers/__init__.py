"""The Lambda functions of the stack (and the backfill command), one module each."""

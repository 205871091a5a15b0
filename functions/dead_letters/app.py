"""Lambda entry point of the dead-letter consumer (in the API function's zip: no scanner): failed
results for what reached the detect queue's dead-letter queue (``aws/handlers/dead_letters.py``),
built once per container."""

from __future__ import annotations

from deepfake_detect.aws.handlers.dead_letters import make_dead_letter_handler
from deepfake_detect.settings import get_settings

lambda_handler = make_dead_letter_handler(get_settings())

"""Lambda entry point of the API function (zip): the FastAPI app under Mangum
(``aws/handlers/api.py``), built once per container."""

from __future__ import annotations

from deepfake_detect.aws.handlers.api import make_api_handler
from deepfake_detect.settings import get_settings

lambda_handler = make_api_handler(get_settings())

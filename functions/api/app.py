"""Lambda entry point of the API function (zip): the FastAPI app under Mangum, built once per container."""

from __future__ import annotations

from deepfake_detect.aws.api import make_api_handler
from deepfake_detect.settings import get_settings

handler = make_api_handler(get_settings())

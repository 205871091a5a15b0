"""Lambda entry point of the detect function (container image; see Dockerfile beside this file):
``aws/handlers/detect.py``.

Module scope runs once per container: settings, AWS clients and the ONNX models load here, so
every invocation after the cold start only scans.
"""

from __future__ import annotations

from deepfake_detect.aws.handlers.detect import make_detect_handler
from deepfake_detect.settings import get_settings

lambda_handler = make_detect_handler(get_settings())

"""Deepfake face detection: find faces, align them, score them with an ONNX classifier."""

__version__ = "0.1.0"

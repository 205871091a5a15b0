"""Names every part of the system agrees on: the model files (locally, in the bucket, in a
training job's output and in the registry's versioned keys)."""

from __future__ import annotations

CLASSIFIER_FILE = "deepfake_classifier.onnx"
CARD_FILE = "deepfake_classifier.json"  # the classifier's model card, beside it
DETECTOR_FILE = "face_detection_yunet_2023mar.onnx"  # YuNet 2023mar, OpenCV model zoo

"""Names and numbers every part of the system agrees on: the model files (locally, in the bucket,
in a training job's output and in the registry's versioned keys) and the backbone's input
statistics (training and serving)."""

from __future__ import annotations

CLASSIFIER_FILE = "deepfake_classifier.onnx"
CARD_FILE = "deepfake_classifier.json"  # the classifier's model card, beside it
DETECTOR_FILE = "face_detection_yunet_2023mar.onnx"  # YuNet 2023mar, OpenCV model zoo

# ImageNet's per-channel statistics (RGB, pixel values scaled to 0..1): the backbone was pretrained
# with them, so a model card's default normalisation and the training crops both use these.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

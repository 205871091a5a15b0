"""Training of the shipped fake-face classifier: data manifest, self-blended fakes, MobileNetV2
fine-tuning, calibration, ONNX export and evaluation through the deepfake_detect core."""

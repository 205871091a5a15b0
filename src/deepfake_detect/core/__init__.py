"""Pure detection logic: numpy, OpenCV and ONNX Runtime only (no boto3, no torch, no web)."""

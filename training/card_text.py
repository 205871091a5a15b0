"""The model card's prose: known limits and licence (kept apart so evaluation needs no torch)."""

from __future__ import annotations

LIMITATIONS = [
    "Trained on tight face crops (DFDC, UTKFace) and portrait photos; the network ignores the crop "
    "border (input window) because those crops have mirrored pixels there. Real faces in full "
    "photos, studio portraits and blurred background faces are called fake far more often than "
    "the validation false positive rate (measured 20-35 % on photos of public figures).",
    "Fakes seen in training: DFDC face swaps, StyleGAN2 faces (thispersondoesnotexist) and "
    "self-blended images. Diffusion-generated faces, newer GANs and reenactment (FaceForensics++ "
    "NeuralTextures) are out of distribution.",
    "UTKFace has no identity ids: each image is treated as its own identity, so one person may "
    "appear in both training and test.",
    "No face under 96 px is in the data: small faces are covered by down-scaling augmentation "
    "only. Video scores aggregate per-frame scores and are only as good as the frames sampled.",
    "Some groups are small (UTKFace Black: about 50 test faces; portraits: about 80): their rates "
    "carry wide confidence intervals. DFDC and the portraits have no demographic labels.",
]
LICENSE = (
    "Research and non-commercial use only: inherited from the training data (DFDC terms, "
    "UTKFace non-commercial research licence, FaceForensics++ terms). Code: Apache-2.0."
)

"""The model card's prose: known limits and licence (kept apart so evaluation needs no torch)."""

from __future__ import annotations

LIMITATIONS = [
    "The network sees the inner face only (brows to just below the mouth, cheek to cheek): the "
    "crop is chosen so that it lies inside every training source, most of which are tight crops. "
    "Blending seams outside that region (hairline, jaw) are not seen.",
    "Fakes seen in training: DFDC face swaps, StyleGAN2 faces (thispersondoesnotexist), Stable "
    "Diffusion 2.1 portraits (SDFD) and self-blended images. Other diffusion models, newer GANs "
    "and reenactment (FaceForensics++ NeuralTextures) are out of distribution.",
    "Identities: DFDC actors, London people, deepface people and web_photos repositories are "
    "linked by ids, file hashes, thumbnails and dlib face embeddings (distance 0.35) so no person "
    "is in two splits; the embedding link is strict to avoid chaining, so some look-alike pairs "
    "of one person in different sessions may still be split apart.",
    "No face under 96 px is in the data: small faces are covered by down-scaling augmentation "
    "only. Video scores aggregate per-frame scores and are only as good as the frames sampled.",
    "Some groups are small (UTKFace Black: about 50 test faces; portraits: about 80): their rates "
    "carry wide confidence intervals. DFDC and the portraits have no demographic labels.",
]
LICENSE = (
    "Research and non-commercial use only: inherited from the training data (DFDC terms, "
    "UTKFace non-commercial research licence, FaceForensics++ terms, SDFD research use, the "
    "web photos' third-party rights; the London set is CC BY 4.0). Code: Apache-2.0."
)

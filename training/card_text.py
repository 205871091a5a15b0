"""The model card's prose: known limits and licence (kept apart so evaluation needs no torch)."""

from __future__ import annotations

LIMITATIONS = [
    "The network sees the inner face only (brows to just below the mouth, cheek to cheek): the "
    "crop is chosen so that it lies inside every training source, most of which are tight crops. "
    "Blending seams outside that region (hairline, jaw) are not seen.",
    "Fakes seen in training: DFDC face swaps, StyleGAN2 faces (thispersondoesnotexist), Stable "
    "Diffusion 2.1 portraits (SDFD), self-blended images, and the training families of today's "
    "generators and swap tools (SDXL identity tools such as PhotoMaker and InstantID, SD 1.x "
    "class-prior portraits, other text-to-image models, VASA-1/EMO talking heads, inswapper-based "
    "tools). FLUX, SD 1.5 identity tools, headshot services, GAN face swappers (InfoSwap, "
    "FaceShifter, HifiFace, ...) and other talking-head tools are held out whole: their figures "
    "measure generators the model never saw, but each held-out family is a few dozen images from "
    "a few repositories, so its interval is wide.",
    "Generated and swapped faces are told apart by two more outputs (evidence kinds), each with "
    "its own threshold; the file's verdict and score come from the fake score alone (the "
    "any-output rule is measured beside it in the card). The kind named is the one furthest "
    "above its own threshold and is a pointer, not a proof.",
    "Scores between t_real and t_fake are inconclusive: real photos unlike the training data "
    "(polished studio portraits, heavy retouching) and hard swaps both land there. Read them as "
    "'look closer', not as either verdict.",
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

"""Read media safely and only as much of it as the work needs.

- ``checks``: a file's kind and size, and an image's or video frame's dimensions, from headers.
- ``pixels``: what decoders hand out (``Frame``, ``Box``, ``View``) and the reductions of pixels.
- ``images``: ``ImageSource``, an image decoded on demand at the scale each use needs.
- ``jpeg``: truncated JPEG data found from the file's markers and a second decode.
- ``orientation``: EXIF orientation, applied to parts of an image rather than the whole bitmap.
- ``pillow``: Pillow, asked to parse only the formats accepted, its failures as one error.
- ``video``: ``open_video`` and ``sample_frames``, decoding only what the samples need.
"""

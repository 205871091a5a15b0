// Plain words for the service's error codes, and the page's constants.

// ---------------------------------------------------------------- constants and plain words
export const HISTORY_PAGE = 10;
export const MAX_PARALLEL_UPLOADS = 2; // image uploads wait for their scan; keep connections free for polls
export const POLL_FIRST_MS = 400;
export const POLL_MAX_MS = 2000;
export const PICK_FRAME = "deepfake:pick-frame"; // event: show a sampled frame (detail: frameIndex, reveal)
export const POLL_GIVE_UP_MS = 30 * 60 * 1000;
export const CLOUD_START_GRACE_MS = 5 * 60 * 1000; // how long a cloud upload may wait for its record to appear
export const TRACK_COLOURS = 8; // .track-N classes in app.css

// Content types the API accepts, by extension (the server sniffs the bytes; this only names them).
export const CONTENT_TYPES = {
  jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", bmp: "image/bmp",
  mp4: "video/mp4", m4v: "video/mp4", mov: "video/quicktime", avi: "video/x-msvideo",
  mkv: "video/x-matroska", webm: "video/webm",
};

export const ERROR_WORDS = {
  unsupported_type: "This type of file is not supported. Use a photo (JPG, PNG, WebP or BMP) " +
    "or a video (MP4, MOV, AVI, MKV or WebM).",
  file_too_large: "This file is too large to check.",
  empty_file: "This file is empty.",
  corrupt_media: "This file is damaged, or it could not be read as a photo or a video.",
  too_many_pixels: "This picture is too big (too many pixels) to check.",
  bad_dimensions: "This picture is too long or too narrow to check.",
  video_too_long: "This video is too long to check.",
  not_found: "The uploaded file could not be found on the server. Please upload it again.",
  model_error: "Processing failed: the detection model could not run. Please try again later.",
  internal_error: "Processing failed on the server. Please try again later.",
  scan_timeout: "This file takes too long to check. Try a shorter video or a smaller file.",
  unauthenticated: "Please sign in again.",
  network: "The service could not be reached. Check your connection and try again.",
  upload_failed: "The upload failed. Please try again.",
  timeout: "The check is taking longer than expected. It will appear in the history when it is done.",
  result_not_found: "This result does not exist (any more).",
};

// Errors whose plain words say it all; the others add the server's own detail.
export const PLAIN_ENOUGH = new Set(["unsupported_type", "empty_file", "network", "timeout", "result_not_found"]);

// Deepfake check: the web page of the local service and of the cloud API (one page, two back ends).
// Plain script, no build step, no inline handlers (works under a strict Content-Security-Policy).
//
// Local mode:  POST v1/detect (multipart) -> 200 finished result (images) or 202 queued (videos).
// Cloud mode:  POST v1/uploads -> presigned POST {url, fields, result_id}; the file goes straight to
//              the bucket; the scan runs elsewhere and the page polls v1/results/{result_id}.
"use strict";

(() => {
  // ---------------------------------------------------------------- constants and plain words
  const HISTORY_PAGE = 10;
  const MAX_PARALLEL_UPLOADS = 2; // image uploads wait for their scan; keep connections free for polls
  const POLL_FIRST_MS = 400;
  const POLL_MAX_MS = 2000;
  const POLL_GIVE_UP_MS = 30 * 60 * 1000;
  const CLOUD_START_GRACE_MS = 5 * 60 * 1000; // how long a cloud upload may wait for its record to appear
  const TRACK_COLOURS = 8; // .track-N classes in app.css
  const BOX_FAKE = "#e53935";
  const BOX_REAL = "#2e9d46";

  // Content types the API accepts, by extension (the server sniffs the bytes; this only names them).
  const CONTENT_TYPES = {
    jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", bmp: "image/bmp",
    mp4: "video/mp4", m4v: "video/mp4", mov: "video/quicktime", avi: "video/x-msvideo",
    mkv: "video/x-matroska", webm: "video/webm",
  };

  const ERROR_WORDS = {
    unsupported_type: "This type of file is not supported. Use a photo (JPG, PNG, WebP or BMP) " +
      "or a video (MP4, MOV, AVI, MKV or WebM).",
    file_too_large: "This file is too large to check.",
    empty_file: "This file is empty.",
    corrupt_media: "This file is damaged, or it could not be read as a photo or a video.",
    too_many_pixels: "This picture is too big (too many pixels) to check.",
    video_too_long: "This video is too long to check.",
    not_found: "The uploaded file could not be found on the server. Please upload it again.",
    model_error: "Processing failed: the detection model could not run. Please try again later.",
    internal_error: "Processing failed on the server. Please try again later.",
    network: "The service could not be reached. Check your connection and try again.",
    upload_failed: "The upload failed. Please try again.",
    timeout: "The check is taking longer than expected. It will appear in the history when it is done.",
    result_not_found: "This result does not exist (any more).",
  };

  // Errors whose plain words say it all; the others add the server's own detail.
  const PLAIN_ENOUGH = new Set(["unsupported_type", "empty_file", "network", "timeout", "result_not_found"]);

  // ---------------------------------------------------------------- small helpers
  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = value;
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children) node.append(child);
    return node;
  }

  const percent = (p) => `${Math.round(p * 100)}%`;
  const apiUrl = (path) => new URL(path, document.baseURI).toString();
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function formatBytes(bytes) {
    const units = ["bytes", "KB", "MB", "GB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${unit ? value.toFixed(value < 10 ? 1 : 0) : value} ${units[unit]}`;
  }

  function formatSeconds(s) {
    if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
    const m = Math.floor(s / 60);
    return `${m}:${String(Math.round(s - m * 60)).padStart(2, "0")} min`;
  }

  function formatDate(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso || "") : date.toLocaleString();
  }

  /** An error a person can read: `code` picks the plain words, `detail` is the server's own text. */
  class PageError extends Error {
    constructor(code, detail, status) {
      super(ERROR_WORDS[code] || detail || "Something went wrong.");
      this.code = code;
      this.detail = detail || "";
      this.status = status || 0;
    }
  }

  function errorFromResponse(status, body) {
    const detail = body && body.detail;
    if (detail && typeof detail === "object" && !Array.isArray(detail) && detail.code) {
      return new PageError(detail.code, detail.message, status);
    }
    if (status === 413) return new PageError("file_too_large", "", status);
    if (status === 415) return new PageError("unsupported_type", "", status);
    const text = typeof detail === "string" ? detail : `the server answered ${status}`;
    return new PageError(status >= 500 ? "internal_error" : "upload_failed", text, status);
  }

  async function getJson(path) {
    let response;
    try {
      response = await fetch(apiUrl(path), { headers: { Accept: "application/json" } });
    } catch {
      throw new PageError("network");
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) throw errorFromResponse(response.status, body);
    return body;
  }

  async function postJson(path, payload) {
    let response;
    try {
      response = await fetch(apiUrl(path), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
      });
    } catch {
      throw new PageError("network");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) throw errorFromResponse(response.status, body);
    return body;
  }

  /** POST a form with XHR, because fetch cannot report upload progress. */
  function postForm(url, form, onUpload) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onUpload(event.loaded / event.total);
      });
      xhr.upload.addEventListener("load", () => onUpload(1));
      xhr.addEventListener("load", () => {
        let body = null;
        try {
          body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          body = xhr.responseText; // S3 answers errors in XML
        }
        resolve({ status: xhr.status, body });
      });
      xhr.addEventListener("error", () => reject(new PageError("network")));
      xhr.addEventListener("abort", () => reject(new PageError("upload_failed", "the upload was cancelled")));
      xhr.send(form);
    });
  }

  // ---------------------------------------------------------------- announcements (screen readers)
  // Each message is added as a new line, so messages that come close together (a batch of
  // uploads finishing) are all read; only the last few are kept.
  const ANNOUNCEMENTS_KEPT = 4;
  function announce(message) {
    const region = $("status");
    region.append(el("p", { text: message }));
    while (region.children.length > ANNOUNCEMENTS_KEPT) region.firstElementChild.remove();
  }

  // ---------------------------------------------------------------- service info
  const service = { mode: "local", maxUploadBytes: null, inputSize: null, card: null };

  async function loadHealth() {
    try {
      const health = await getJson("health");
      service.mode = health.mode === "cloud" ? "cloud" : "local";
      if (typeof health.max_upload_bytes === "number") service.maxUploadBytes = health.max_upload_bytes;
    } catch {
      // The page still works: uploads will report their own errors.
    }
    const mode = $("mode");
    mode.textContent = service.mode === "cloud" ? "Cloud service" : "Running on this computer";
    mode.hidden = false;
    if (service.maxUploadBytes) $("size-limit").textContent = `Up to ${formatBytes(service.maxUploadBytes)} each.`;
  }

  // ---------------------------------------------------------------- the upload queue
  const waiting = [];
  let active = 0;

  class Job {
    constructor(file) {
      this.file = file;
      this.resultId = null;
      this.result = null;
      this.state = el("p", { class: "job-state", text: "Waiting to upload…" });
      this.bar = el("progress", { max: "1", value: "0", "aria-label": `Progress for ${file.name}` });
      this.actions = el("div", { class: "job-actions" });
      this.row = el("li", { class: "job" },
        el("span", { class: "job-name", text: file.name }), this.actions, this.state, this.bar);
      $("jobs").prepend(this.row);
    }

    progress(fraction, text) {
      if (fraction === null) this.bar.removeAttribute("value"); // indeterminate
      else this.bar.value = Math.max(0, Math.min(1, fraction));
      this.state.textContent = text;
    }

    done(result) {
      this.result = result;
      this.bar.remove();
      this.row.classList.add(result.verdict === "fake" ? "fake" : result.verdict === "real" ? "real" : "other");
      this.state.textContent = summary(result);
      const button = el("button", { type: "button", class: "button small", text: "View result" });
      button.addEventListener("click", () => showResult(this.result, { focus: true, pinned: true }));
      this.actions.append(button);
    }

    fail(error) {
      this.bar.remove();
      this.row.classList.add("error");
      this.state.textContent = error.message + (error.detail && !PLAIN_ENOUGH.has(error.code)
        ? ` (${error.detail})` : "");
    }
  }

  function enqueue(files) {
    const list = Array.from(files || []);
    if (!list.length) return;
    announce(list.length === 1 ? `Checking ${list[0].name}.` : `Checking ${list.length} files.`);
    view.autoShow = true; // the first result of this batch opens by itself
    for (const file of list) {
      const job = new Job(file);
      const problem = precheck(file);
      if (problem) {
        job.fail(problem);
        announce(`${file.name}: ${problem.message}`);
        continue;
      }
      waiting.push(job);
    }
    pump();
  }

  /** Refuse what the service would refuse, before spending the upload on it. */
  function precheck(file) {
    if (file.size === 0) return new PageError("empty_file");
    const limit = service.maxUploadBytes;
    if (limit && file.size > limit) {
      const [size, most] = formatBytes(file.size) === formatBytes(limit)
        ? [`${file.size} bytes`, `${limit} bytes`] : [formatBytes(file.size), formatBytes(limit)];
      return new PageError("file_too_large", `${size}; the limit is ${most}`);
    }
    if (service.mode === "cloud" && !contentTypeOf(file)) return new PageError("unsupported_type");
    return null;
  }

  function contentTypeOf(file) {
    if (file.type && Object.values(CONTENT_TYPES).includes(file.type)) return file.type;
    const ext = (file.name.split(".").pop() || "").toLowerCase();
    return CONTENT_TYPES[ext] || null;
  }

  function pump() {
    while (active < MAX_PARALLEL_UPLOADS && waiting.length) {
      const job = waiting.shift();
      active += 1;
      runJob(job).finally(() => {
        active -= 1;
        pump();
      });
    }
  }

  async function runJob(job) {
    try {
      let record = service.mode === "cloud" ? await uploadToBucket(job) : await uploadToService(job);
      job.resultId = record.id;
      if (record.status !== "done" && record.status !== "failed") record = await poll(job, record.id);
      if (record.status === "failed" || record.verdict === "error") {
        const info = record.error || {};
        throw new PageError(info.code || "internal_error", info.message);
      }
      job.done(record);
      announce(`${job.file.name}: ${summary(record)}.`);
      if (view.autoShow) showResult(record, { focus: false, pinned: false });
    } catch (error) {
      const problem = error instanceof PageError ? error : new PageError("internal_error", String(error));
      job.fail(problem);
      announce(`${job.file.name}: ${problem.message}`);
    }
    scheduleHistoryRefresh();
  }

  async function uploadToService(job) {
    const form = new FormData();
    form.append("file", job.file, job.file.name);
    const { status, body } = await postForm(apiUrl("v1/detect"), form, (fraction) => {
      if (fraction < 1) job.progress(fraction, `Uploading… ${percent(fraction)}`);
      else job.progress(null, "Uploaded. Checking…");
    });
    if (status === 200 || status === 202) return body;
    if (status === 0) throw new PageError("network");
    throw errorFromResponse(status, body);
  }

  async function uploadToBucket(job) {
    job.progress(0, "Preparing the upload…");
    const grant = await postJson("v1/uploads", { filename: job.file.name, content_type: contentTypeOf(job.file) });
    const form = new FormData();
    for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, value);
    form.append("file", job.file, job.file.name); // S3 ignores every field after the file
    const { status, body } = await postForm(grant.url, form, (fraction) => {
      if (fraction < 1) job.progress(fraction, `Uploading… ${percent(fraction)}`);
      else job.progress(null, "Uploaded. Waiting for the check to start…");
    });
    if (status < 200 || status >= 300) {
      const text = typeof body === "string" ? body : "";
      if (text.includes("EntityTooLarge")) throw new PageError("file_too_large", "", status);
      if (status === 0) throw new PageError("network");
      throw new PageError("upload_failed", `the storage service answered ${status}`, status);
    }
    return { id: grant.result_id, status: "queued" };
  }

  async function poll(job, id) {
    const started = Date.now();
    let delay = POLL_FIRST_MS;
    for (;;) {
      await sleep(delay);
      delay = Math.min(POLL_MAX_MS, delay * 1.5);
      let record;
      try {
        record = await getJson(`v1/results/${encodeURIComponent(id)}`);
      } catch (error) {
        // In the cloud the record is written by the scanner, a moment after the upload lands.
        const early = error.code === "result_not_found" && service.mode === "cloud"
          && Date.now() - started < CLOUD_START_GRACE_MS;
        const transient = error.code === "network" || error.status >= 500;
        if (!early && !transient) throw error;
        if (Date.now() - started > POLL_GIVE_UP_MS) throw new PageError("timeout");
        continue;
      }
      if (record.status === "done" || record.status === "failed") return record;
      if (record.status === "processing") {
        const p = typeof record.progress === "number" ? record.progress : null;
        job.progress(p, p === null ? "Checking…" : `Checking… ${percent(p)}`);
      } else {
        job.progress(null, "Waiting for its turn…");
      }
      if (Date.now() - started > POLL_GIVE_UP_MS) throw new PageError("timeout");
    }
  }

  // ---------------------------------------------------------------- verdict words
  function summary(result) {
    switch (result.verdict) {
      case "fake": return `likely manipulated (${percent(result.score)} probability)`;
      case "real": return `no sign of manipulation (${percent(result.score)} probability of manipulation)`;
      case "no_face": return "no face found";
      case "error": return `could not be checked: ${ERROR_WORDS[result.error && result.error.code]
        || "processing failed"}`;
      default: return result.status === "failed" ? "processing failed" : "still being checked";
    }
  }

  function verdictWords(result) {
    // The server decides every verdict; the threshold is only quoted.
    const threshold = result.threshold;
    const kind = result.media_kind === "video" ? "video" : "photo";
    switch (result.verdict) {
      case "fake":
        return {
          cls: "fake",
          title: `Likely manipulated: ${percent(result.score)}`,
          detail: `The model gives a ${percent(result.score)} probability that a face in this ${kind} ` +
            `was manipulated. It calls a file manipulated from ${percent(threshold)}.`,
        };
      case "real":
        return {
          cls: "real",
          title: `No sign of manipulation: ${percent(result.score)}`,
          detail: `The model gives a ${percent(result.score)} probability that a face in this ${kind} ` +
            `was manipulated, below its ${percent(threshold)} threshold.`,
        };
      case "no_face":
        return {
          cls: "other",
          title: "No face found",
          detail: `The model only judges faces, and it found none in this ${kind}, so there is ` +
            "nothing to score. Try a picture where a face is clearly visible.",
        };
      case "error": {
        const info = result.error || {};
        return {
          cls: "error",
          title: "Could not check this file",
          detail: (ERROR_WORDS[info.code] || "Processing failed.") + (info.message ? ` (${info.message})` : ""),
        };
      }
      default:
        return {
          cls: "other",
          title: "Still being checked…",
          detail: typeof result.progress === "number" ? `${percent(result.progress)} done.` : "Waiting for its turn.",
        };
    }
  }

  // ---------------------------------------------------------------- the result view
  // autoShow: the next finished upload replaces the result on screen (until the person picks one).
  const view = { result: null, autoShow: false, heatmap: false, watch: 0 };

  function faceLabel(result, face, index) {
    return result.media_kind === "video" ? `Person ${face.track + 1}` : `Face ${index + 1}`;
  }

  /** Faces drawn on the evidence image: those of the evidence frame (every face, for a photo). */
  function evidenceFaces(result) {
    if (result.evidence_frame_index === null || result.evidence_frame_index === undefined) return [];
    return (result.faces || []).filter((f) => f.frame_index === result.evidence_frame_index);
  }

  function showResult(result, { focus, pinned, update = false }) {
    view.result = result;
    if (!update) view.autoShow = false;
    clearTimeout(view.watch);
    const panel = $("result-panel");
    panel.hidden = false;
    panel.dataset.resultId = result.id;
    $("result-file").textContent = result.path;

    const words = verdictWords(result);
    $("verdict").className = `verdict ${words.cls}`;
    $("verdict-title").textContent = words.title;
    $("verdict-detail").textContent = words.detail;

    renderEvidence(result);
    renderFaces(result);
    renderTimeline(result);
    renderDetails(result);

    if (pinned && result.id) history.replaceState(null, "", `#result/${encodeURIComponent(result.id)}`);
    if (focus) $("result-heading").focus();
    if (result.status === "queued" || result.status === "processing") watch(result.id);
  }

  /** Keep a result opened from the history up to date while it is still being checked. */
  function watch(id) {
    view.watch = setTimeout(async () => {
      if (!view.result || view.result.id !== id) return;
      try {
        const fresh = await getJson(`v1/results/${encodeURIComponent(id)}`);
        if (view.result && view.result.id === id) showResult(fresh, { focus: false, pinned: false, update: true });
      } catch (error) {
        if (error.code !== "result_not_found") watch(id);
      }
    }, POLL_MAX_MS);
  }

  function renderEvidence(result) {
    const figure = $("evidence");
    const controls = $("evidence-controls");
    const image = $("evidence-image");
    const hasEvidence = Boolean(result.evidence && result.evidence.key);
    figure.hidden = !hasEvidence;
    controls.hidden = true;
    clearOverlay();
    if (!hasEvidence) {
      image.removeAttribute("src");
      return;
    }
    const faces = evidenceFaces(result);
    const kind = result.media_kind === "video" ? "frame" : "photo";
    image.alt = faces.length
      ? `The ${kind} with ${faces.length} face${faces.length > 1 ? "s" : ""} marked: ` +
        faces.map((f, i) => `${faceLabel(result, f, i)}: ${percent(f.score)}`).join("; ")
      : `The ${kind} that was checked`;
    let caption = faces.length ? "Each face is boxed and labelled with its probability of manipulation." : "";
    if (result.media_kind === "video" && faces.length) {
      caption = `The most suspicious moment, at ${formatSeconds(faces[0].timestamp_s)}. ` + caption;
    }
    $("evidence-caption").textContent = caption;
    const toggle = $("heatmap-toggle");
    const hasHeatmap = faces.some((f) => f.heatmap && f.crop_to_image);
    controls.hidden = !hasHeatmap;
    toggle.checked = view.heatmap && hasHeatmap;
    const src = apiUrl(`v1/results/${encodeURIComponent(result.id)}/evidence.jpg`);
    if (image.getAttribute("src") !== src) image.src = src;
    else if (image.complete) drawOverlay();
  }

  function clearOverlay() {
    const canvas = $("evidence-overlay");
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  }

  function drawOverlay() {
    const result = view.result;
    const image = $("evidence-image");
    const canvas = $("evidence-overlay");
    if (!result || !image.naturalWidth || !image.clientWidth) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(image.clientWidth * dpr);
    canvas.height = Math.round(image.clientHeight * dpr);
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    // Boxes are in original pixels; the evidence JPEG may be downscaled by `evidence.scale`.
    const evidenceScale = (result.evidence && result.evidence.scale) || 1;
    const originalWidth = result.width || image.naturalWidth / evidenceScale;
    const s = canvas.width / originalWidth;
    const faces = evidenceFaces(result);
    if ($("heatmap-toggle").checked) {
      for (const face of faces) drawHeatmap(ctx, face, s);
    }
    faces.forEach((face, i) => drawBox(ctx, face, faceLabel(result, face, i), result, s, dpr));
  }

  function drawBox(ctx, face, label, result, s, dpr) {
    const colour = face.verdict === "fake" ? BOX_FAKE : BOX_REAL;
    const [x, y, w, h] = face.box.map((v) => v * s);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.lineWidth = 4 * dpr;
    ctx.strokeStyle = "rgba(0, 0, 0, 0.55)"; // dark halo keeps the box visible on light images
    ctx.strokeRect(x, y, w, h);
    ctx.lineWidth = 2.5 * dpr;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);

    const text = `${label}: ${percent(face.score)}`;
    ctx.font = `600 ${Math.round(13 * dpr)}px system-ui, sans-serif`;
    const pad = 4 * dpr;
    const height = Math.round(18 * dpr);
    const width = ctx.measureText(text).width + 2 * pad;
    const lx = Math.max(0, Math.min(x, ctx.canvas.width - width));
    const ly = y - height >= 0 ? y - height : Math.min(y + h, ctx.canvas.height - height);
    ctx.fillStyle = colour;
    ctx.fillRect(lx, ly, width, height);
    ctx.fillStyle = "#ffffff";
    ctx.textBaseline = "middle";
    ctx.fillText(text, lx + pad, ly + height / 2);
  }

  /** Paint the class-activation grid over the aligned crop, placed on the image by crop_to_image. */
  function drawHeatmap(ctx, face, s) {
    const grid = face.heatmap;
    const m = face.crop_to_image;
    if (!grid || !grid.length || !m) return;
    const rows = grid.length;
    const cols = grid[0].length;
    const tile = document.createElement("canvas");
    tile.width = cols;
    tile.height = rows;
    const tctx = tile.getContext("2d");
    const pixels = tctx.createImageData(cols, rows);
    for (let r = 0; r < rows; r += 1) {
      for (let c = 0; c < cols; c += 1) {
        const v = Math.max(0, Math.min(1, grid[r][c]));
        const [red, green, blue] = heatColour(v);
        const k = (r * cols + c) * 4;
        pixels.data[k] = red;
        pixels.data[k + 1] = green;
        pixels.data[k + 2] = blue;
        pixels.data[k + 3] = Math.round(255 * 0.65 * Math.pow(v, 0.8)); // cold areas stay clear
      }
    }
    tctx.putImageData(pixels, 0, 0);
    // The grid covers the whole aligned crop, which is input_size pixels square.
    const cropSize = service.inputSize || cols;
    // Canvas order (a, b, c, d, e, f) maps (x, y) to (a x + c y + e, b x + d y + f).
    ctx.save();
    ctx.setTransform(s * m[0][0], s * m[1][0], s * m[0][1], s * m[1][1], s * m[0][2], s * m[1][2]);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(tile, 0, 0, cropSize, cropSize);
    ctx.restore();
  }

  // Blue -> cyan -> green -> yellow -> red.
  const HEAT_STOPS = [[0, [40, 60, 220]], [0.35, [0, 200, 230]], [0.55, [40, 200, 60]],
    [0.75, [250, 220, 0]], [1, [230, 30, 20]]];
  function heatColour(v) {
    for (let i = 1; i < HEAT_STOPS.length; i += 1) {
      const [t1, c1] = HEAT_STOPS[i];
      if (v <= t1) {
        const [t0, c0] = HEAT_STOPS[i - 1];
        const f = (v - t0) / (t1 - t0);
        return c0.map((x, j) => Math.round(x + f * (c1[j] - x)));
      }
    }
    return HEAT_STOPS[HEAT_STOPS.length - 1][1];
  }

  function scoreSpan(score, verdict) {
    const fake = verdict === "fake";
    return el("span", { class: fake ? "score-fake" : "score-real",
      text: `${percent(score)} ${fake ? "(likely manipulated)" : "(looks authentic)"}` });
  }

  function renderFaces(result) {
    const list = $("faces");
    list.replaceChildren();
    if (result.media_kind === "video") {
      for (const track of result.tracks || []) {
        list.append(el("li", null, `Person ${track.track + 1}: `, scoreSpan(track.score, track.verdict),
          `, seen in ${track.frames} sampled frame${track.frames === 1 ? "" : "s"} ` +
          `(${formatSeconds(track.first_timestamp_s)} to ${formatSeconds(track.last_timestamp_s)})`));
      }
    } else {
      evidenceFaces(result).forEach((face, i) => {
        list.append(el("li", null, `Face ${i + 1}: `, scoreSpan(face.score, face.verdict)));
      });
    }
    const none = !list.children.length;
    $("faces-heading").hidden = none;
    list.hidden = none;
  }

  function renderDetails(result) {
    const rows = [
      ["Result id", result.id],
      ["Checked", formatDate(result.created_at)],
      ["Kind", result.media_kind],
      ["Size", result.width && result.height ? `${result.width} × ${result.height} pixels` : null],
      ["Duration", typeof result.duration_s === "number" ? formatSeconds(result.duration_s) : null],
      ["Frames sampled", result.frames_sampled],
      ["Model", result.model ? `${result.model.name} ${result.model.version}` : null],
      ["Time taken", result.timings_ms && result.timings_ms.total
        ? `${Math.round(result.timings_ms.total)} ms` : null],
    ];
    fillPairs($("result-details"), rows);
    const link = el("a", { href: apiUrl(`v1/results/${encodeURIComponent(result.id)}`), text: "JSON" });
    $("result-details").append(el("dt", { text: "Raw result" }), el("dd", null, link));
  }

  function fillPairs(dl, rows) {
    dl.replaceChildren();
    for (const [key, value] of rows) {
      if (value === null || value === undefined || value === "") continue;
      dl.append(el("dt", { text: key }), el("dd", { text: String(value) }));
    }
  }

  // ---------------------------------------------------------------- the video timeline (inline SVG)
  function renderTimeline(result) {
    const block = $("timeline-block");
    const frames = result.frames || [];
    const tracks = result.tracks || [];
    const show = result.media_kind === "video" && frames.length > 0 && tracks.length > 0;
    block.hidden = !show;
    const holder = $("timeline");
    holder.replaceChildren();
    $("timeline-legend").replaceChildren();
    $("timeline-table").replaceChildren();
    if (!show) return;

    // Drawn at the holder's own width, so labels keep their size on a phone (redrawn on resize).
    const W = Math.max(280, Math.min(960, Math.round(holder.clientWidth || 640)));
    const H = 220;
    const left = 44;
    const right = 14;
    const top = 10;
    const bottom = 30;
    const lastTime = Math.max(...frames.map((f) => f.timestamp_s));
    const duration = Math.max(result.duration_s || 0, lastTime, 0.001);
    const x = (t) => left + (t / duration) * (W - left - right);
    const y = (p) => top + (1 - p) * (H - top - bottom);
    const threshold = result.threshold; // drawn as a line; verdicts come from the server

    const worst = tracks.reduce((a, b) => (b.score > a.score ? b : a));
    const title = svg("title", { id: "timeline-title", text: "Probability of manipulation over time" });
    const desc = svg("desc", { id: "timeline-desc",
      text: `${tracks.length} face track${tracks.length > 1 ? "s" : ""} over ${formatSeconds(duration)}. ` +
        `Highest track score ${percent(worst.score)} (Person ${worst.track + 1}). ` +
        "The same numbers are in the table below the chart." });
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
      "aria-labelledby": "timeline-title timeline-desc", preserveAspectRatio: "xMidYMid meet" }, title, desc);

    for (const p of [0, 0.25, 0.5, 0.75, 1]) {
      chart.append(svg("line", { class: "grid", x1: left, x2: W - right, y1: y(p), y2: y(p) }));
      chart.append(svg("text", { x: left - 6, y: y(p) + 4, "text-anchor": "end", text: percent(p) }));
    }
    for (const t of niceTicks(duration, Math.max(2, Math.floor((W - left - right) / 70)))) {
      chart.append(svg("line", { class: "axis", x1: x(t), x2: x(t), y1: H - bottom, y2: H - bottom + 4 }));
      chart.append(svg("text", { x: x(t), y: H - bottom + 18, "text-anchor": "middle", text: `${t} s` }));
    }
    chart.append(svg("line", { class: "axis", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
    if (typeof threshold === "number") {
      chart.append(svg("line", { class: "threshold", x1: left, x2: W - right, y1: y(threshold), y2: y(threshold) }));
    }

    const evidence = frames.find((f) => f.frame_index === result.evidence_frame_index);
    if (evidence) {
      chart.append(svg("line", { class: "evidence-mark", x1: x(evidence.timestamp_s),
        x2: x(evidence.timestamp_s), y1: top, y2: H - bottom }));
    }

    for (const track of tracks) {
      const key = String(track.track);
      const colour = `track-${track.track % TRACK_COLOURS}`;
      const points = frames.filter((f) => f.scores && key in f.scores)
        .map((f) => [f.timestamp_s, f.scores[key]]);
      const group = svg("g", { class: colour, "data-track": key });
      group.append(svg("polyline", {
        class: colour, points: points.map(([t, p]) => `${x(t).toFixed(1)},${y(p).toFixed(1)}`).join(" "),
      }));
      for (const [t, p] of points) {
        const dot = svg("circle", { cx: x(t).toFixed(1), cy: y(p).toFixed(1), r: 2.5, class: colour });
        dot.append(svg("title", { text: `Person ${track.track + 1} at ${formatSeconds(t)}: ${percent(p)}` }));
        group.append(dot);
      }
      chart.append(group);
      $("timeline-legend").append(el("li", null, el("span", { class: `swatch ${colour}`, "aria-hidden": "true" }),
        `Person ${track.track + 1} (${percent(track.score)})`));
    }
    holder.append(chart);
    renderTimelineTable(frames, tracks);
  }

  function niceTicks(duration, most) {
    const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200];
    const step = steps.find((st) => duration / st <= most) || 3600;
    const ticks = [];
    for (let t = 0; t <= duration + 1e-9; t += step) ticks.push(Number(t.toFixed(1)));
    return ticks;
  }

  function renderTimelineTable(frames, tracks) {
    const table = $("timeline-table");
    const head = el("tr", null, el("th", { scope: "col", text: "Time" }));
    for (const track of tracks) head.append(el("th", { scope: "col", text: `Person ${track.track + 1}` }));
    const body = el("tbody");
    for (const frame of frames) {
      const row = el("tr", null, el("th", { scope: "row", text: formatSeconds(frame.timestamp_s) }));
      for (const track of tracks) {
        const score = frame.scores ? frame.scores[String(track.track)] : undefined;
        row.append(el("td", { text: typeof score === "number" ? percent(score) : "–" }));
      }
      body.append(row);
    }
    table.append(el("caption", { class: "visually-hidden", text: "Probability of manipulation per sampled frame" }),
      el("thead", null, head), body);
  }

  // ---------------------------------------------------------------- history
  const past = { token: null, loading: false, refreshTimer: 0 };

  function historyVerdict(item) {
    if (item.status === "queued" || item.status === "processing") return "Checking…";
    switch (item.verdict) {
      case "fake": return `Manipulated ${percent(item.score)}`;
      case "real": return `Authentic ${percent(item.score)}`;
      case "no_face": return "No face";
      default: return "Failed";
    }
  }

  async function loadHistory(reset) {
    if (past.loading) return;
    past.loading = true;
    const list = $("history");
    const more = $("history-more");
    try {
      const query = new URLSearchParams({ limit: String(HISTORY_PAGE) });
      if (!reset && past.token) query.set("token", past.token);
      const page = await getJson(`v1/results?${query}`);
      if (reset) list.replaceChildren();
      for (const item of page.items) list.append(historyRow(item));
      past.token = page.next_token;
      more.hidden = !page.next_token;
      $("history-empty").hidden = list.children.length > 0;
    } catch (error) {
      $("history-empty").hidden = false;
      $("history-empty").textContent = `The history could not be loaded. ${error.message}`;
    } finally {
      past.loading = false;
    }
  }

  function historyRow(item) {
    const cls = item.verdict === "fake" ? "fake" : item.verdict === "real" ? "real"
      : item.verdict === "error" || item.status === "failed" ? "error" : "other";
    const verdict = historyVerdict(item);
    const date = formatDate(item.created_at);
    // An explicit name, so screen readers do not run the three parts together.
    const button = el("button", { type: "button", class: cls, "aria-label": `${item.path}: ${verdict}, ${date}` },
      el("span", { class: "h-name", text: item.path }),
      el("span", { class: "h-verdict", text: verdict }),
      el("span", { class: "h-date", text: date }));
    button.addEventListener("click", () => showResult(item, { focus: true, pinned: true }));
    return el("li", null, button);
  }

  function scheduleHistoryRefresh() {
    clearTimeout(past.refreshTimer);
    past.refreshTimer = setTimeout(() => loadHistory(true), 300);
  }

  // ---------------------------------------------------------------- model card
  const METRIC_PERCENT = /acc|auc|precision|recall|f1|tpr|fpr|rate/i;

  function metricRows(metrics, prefix, depth) {
    const rows = [];
    for (const [key, value] of Object.entries(metrics || {})) {
      const name = prefix ? `${prefix} › ${key.replace(/_/g, " ")}` : key.replace(/_/g, " ");
      if (typeof value === "number") {
        const asPercent = METRIC_PERCENT.test(key) && value >= 0 && value <= 1;
        rows.push([name, asPercent ? `${(value * 100).toFixed(1)}%` : String(Number(value.toFixed(4)))]);
      } else if (value && typeof value === "object" && !Array.isArray(value) && depth < 2) {
        rows.push(...metricRows(value, name, depth + 1));
      } else if (value !== null && value !== undefined) {
        rows.push([name, Array.isArray(value) ? value.join(", ") : String(value)]);
      }
    }
    return rows;
  }

  async function loadModelCard() {
    const dl = $("model-card");
    try {
      const card = await getJson("v1/model");
      service.card = card;
      service.inputSize = card.preprocessing && card.preprocessing.input_size;
      const data = Array.isArray(card.training_data) ? card.training_data.join(", ")
        : Object.keys(card.training_data || {}).join(", ");
      fillPairs(dl, [
        ["Name", card.name],
        ["Version", card.version],
        ["Created", card.created_at ? formatDate(card.created_at) : null],
        ["Architecture", card.architecture],
        ["Decision threshold", typeof card.threshold === "number" ? percent(card.threshold) : null],
        ["Face crop", service.inputSize ? `${service.inputSize} × ${service.inputSize} pixels` : null],
        ["Heat map", card.outputs && card.outputs.cam ? "class-activation map" : "not available"],
        ...metricRows(card.metrics, "", 0),
        ["Training data", data],
        ["Licence", card.license],
      ]);
      const limits = $("model-limitations");
      limits.replaceChildren();
      if (card.limitations && card.limitations.length) {
        limits.append(el("h3", { text: "Known limitations" }),
          el("ul", null, ...card.limitations.map((text) => el("li", { text }))));
      }
      if (view.result) drawOverlay(); // the heat map needs the crop size
    } catch (error) {
      fillPairs(dl, [["Model", `unavailable (${error.message})`]]);
    }
  }

  // ---------------------------------------------------------------- wiring
  function wireUploads() {
    const input = $("file-input");
    input.addEventListener("change", () => {
      enqueue(input.files);
      input.value = ""; // choosing the same file again must start a new check
    });
    const zone = $("dropzone");
    let depth = 0;
    const hasFiles = (event) => Array.from(event.dataTransfer ? event.dataTransfer.types : []).includes("Files");
    // Dropping anywhere on the page uploads, instead of the browser navigating away to the file.
    document.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth += 1;
      zone.classList.add("dragging");
    });
    document.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    document.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove("dragging");
    });
    document.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      zone.classList.remove("dragging");
      enqueue(event.dataTransfer.files);
    });
  }

  function wireResultView() {
    const image = $("evidence-image");
    image.addEventListener("load", drawOverlay);
    image.addEventListener("error", () => {
      $("evidence").hidden = true;
      $("evidence-controls").hidden = true;
    });
    $("heatmap-toggle").addEventListener("change", (event) => {
      view.heatmap = event.target.checked;
      drawOverlay();
      announce(view.heatmap ? "Heat map shown." : "Heat map hidden.");
    });
    // The overlay is drawn at the image's displayed size (sharp on every screen): redraw on resize.
    new ResizeObserver(() => drawOverlay()).observe(image);
    let timelineWidth = 0;
    new ResizeObserver(() => {
      const width = $("timeline").clientWidth;
      if (view.result && width && Math.abs(width - timelineWidth) > 8) {
        timelineWidth = width;
        renderTimeline(view.result);
      }
    }).observe($("timeline"));
  }

  function wireHistory() {
    $("history-more").addEventListener("click", () => loadHistory(false));
    $("history-refresh").addEventListener("click", () => loadHistory(true));
  }

  async function openFromAddress() {
    const match = /^#result\/([^/]+)$/.exec(location.hash);
    if (!match) return;
    try {
      const result = await getJson(`v1/results/${match[1]}`);
      showResult(result, { focus: false, pinned: true });
    } catch (error) {
      announce(error.message);
    }
  }

  async function start() {
    wireUploads();
    wireResultView();
    wireHistory();
    window.addEventListener("hashchange", openFromAddress); // back/forward, pasted links
    await loadHealth();
    document.body.dataset.mode = service.mode;
    await Promise.all([loadModelCard(), loadHistory(true), openFromAddress()]);
    document.body.dataset.ready = "true"; // tests wait for this
  }

  start();
})();

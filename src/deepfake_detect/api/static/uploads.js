// The upload queue: local uploads to POST v1/detect, cloud uploads through a presigned POST, then polling.
import { bandClass } from "./bands.js";
import { $, PageError, apiUrl, el, errorFromResponse, formatBytes, getJson, percent, postForm, postJson, sleep } from "./client.js";
import { showResult, view } from "./evidence.js";
import { scheduleHistoryRefresh } from "./history.js";
import { announce, service } from "./service.js";
import { summary } from "./verdicts.js";
import { CLOUD_START_GRACE_MS, CONTENT_TYPES, MAX_PARALLEL_UPLOADS, PLAIN_ENOUGH, POLL_FIRST_MS, POLL_GIVE_UP_MS, POLL_MAX_MS } from "./words.js";

// ---------------------------------------------------------------- the upload queue
export const waiting = [];
export let active = 0;

export class Job {
  constructor(file) {
    this.file = file;
    this.resultId = null;
    this.result = null;
    this.state = el("p", { class: "job-state", text: "Waiting to upload…" });
    this.bar = el("progress", { max: "1", value: "0", "aria-label": `Progress for ${file.name}` });
    this.actions = el("div", { class: "job-actions" });
    this.row = el("li", { class: "job" },
      el("span", { class: "job-name", title: file.name, text: file.name }), this.actions, this.state, this.bar);
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
    this.row.classList.add(bandClass(result.verdict));
    this.state.textContent = summary(result);
    const button = el("button", { type: "button", class: "button small", text: "View result" });
    button.addEventListener("click", () => showResult(this.result, { focus: true }));
    this.actions.append(button);
  }

  fail(error) {
    this.bar.remove();
    this.row.classList.add("error");
    this.state.textContent = error.message + (error.detail && !PLAIN_ENOUGH.has(error.code)
      ? ` (${error.detail})` : "");
  }
}

export function enqueue(files) {
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
export function precheck(file) {
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

export function contentTypeOf(file) {
  if (file.type && Object.values(CONTENT_TYPES).includes(file.type)) return file.type;
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return CONTENT_TYPES[ext] || null;
}

export function pump() {
  while (active < MAX_PARALLEL_UPLOADS && waiting.length) {
    const job = waiting.shift();
    active += 1;
    runJob(job).finally(() => {
      active -= 1;
      pump();
    });
  }
}

export async function runJob(job) {
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
    if (view.autoShow) showResult(record, { focus: false });
  } catch (error) {
    const problem = error instanceof PageError ? error : new PageError("internal_error", String(error));
    job.fail(problem);
    announce(`${job.file.name}: ${problem.message}`);
  }
  scheduleHistoryRefresh();
}

export async function uploadToService(job) {
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

export async function uploadToBucket(job) {
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

export async function poll(job, id) {
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

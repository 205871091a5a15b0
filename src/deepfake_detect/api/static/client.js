// Small DOM helpers and the HTTP client of the service's API.
import { ERROR_WORDS } from "./words.js";

// ---------------------------------------------------------------- small helpers
export const $ = (id) => document.getElementById(id);

export function el(tag, props, ...children) {
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

export function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

export const percent = (p) => `${Math.round(p * 100)}%`;
export const apiUrl = (path) => new URL(path, document.baseURI).toString();
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function formatBytes(bytes) {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(value < 10 ? 1 : 0) : value} ${units[unit]}`;
}

/** A time in a video. Under a minute it keeps a tenth of a second, so that samples less than a
 * second apart (10.6 s and 11.4 s) do not read as the same moment. */
export function formatSeconds(s) {
  if (s < 59.95) return `${s.toFixed(1)} s`;
  const whole = Math.round(s); // rounded once, so 119.7 s reads 2:00, not 1:60
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")} min`;
}

export function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso || "") : date.toLocaleString();
}

/** An error a person can read: `code` picks the plain words, `detail` is the server's own text. */
export class PageError extends Error {
  constructor(code, detail, status) {
    super(ERROR_WORDS[code] || detail || "Something went wrong.");
    this.code = code;
    this.detail = detail || "";
    this.status = status || 0;
  }
}

export function errorFromResponse(status, body) {
  const detail = body && body.detail;
  if (detail && typeof detail === "object" && !Array.isArray(detail) && detail.code) {
    return new PageError(detail.code, detail.message, status);
  }
  if (status === 413) return new PageError("file_too_large", "", status);
  if (status === 415) return new PageError("unsupported_type", "", status);
  const text = typeof detail === "string" ? detail : `the server answered ${status}`;
  return new PageError(status >= 500 ? "internal_error" : "upload_failed", text, status);
}

export async function getJson(path) {
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

export async function postJson(path, payload) {
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
export function postForm(url, form, onUpload) {
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

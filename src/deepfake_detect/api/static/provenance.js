// The "Content credentials" panel: what the file's own metadata says about its origin (C2PA content
// credentials, XMP, EXIF, PNG text), who says so, whether it validates and is trusted, and, when a
// declaration of AI generation decided the verdict, why. The server decides; this only shows.
import { scoreName } from "./bands.js";
import { $, el } from "./client.js";

const SOURCE_WORDS = {
  c2pa: "C2PA content credentials",
  xmp: "XMP metadata",
  exif: "EXIF metadata",
  png_text: "PNG text chunks",
};

// IPTC digital source types a person may meet, in plain words.
const SOURCE_TYPE_WORDS = {
  trainedAlgorithmicMedia: "made by a generative AI model",
  compositeWithTrainedAlgorithmicMedia: "a composite that includes AI-generated content",
  algorithmicMedia: "made by an algorithm (not a trained model)",
  digitalCapture: "captured by a camera",
  computationalCapture: "captured by a camera, computationally processed",
  compositeCapture: "a composite of captures",
  negativeFilm: "scanned from a film negative",
  positiveFilm: "scanned from film",
  digitalArt: "digital art made by a person",
  composite: "a composite",
  minorHumanEdits: "captured, with minor edits",
  dataDrivenMedia: "made from data",
};

/** The bare IPTC term of a digital source type (the last part of its URI). */
export function sourceTerm(value) {
  if (!value) return null;
  const parts = String(value).trim().replace(/\/+$/, "").split("/");
  return parts[parts.length - 1] || null;
}

function sourceTypeWords(value) {
  const term = sourceTerm(value);
  if (!term) return null;
  return SOURCE_TYPE_WORDS[term] ? `${term}: ${SOURCE_TYPE_WORDS[term]}` : term;
}

const c2paInvalid = (c2pa) => c2pa.signature_valid === false || c2pa.hashes_match === false
  || c2pa.validation_state === "Invalid";

/** The panel's headline: a class for its colour and the words. */
export function credentialState(provenance) {
  const c2pa = provenance.c2pa;
  if (provenance.declared_ai) return { cls: "fake", title: "Declares AI generation" };
  if (c2pa && c2pa.present) {
    if (!c2pa.validated) return { cls: "warn", title: "Content credentials present, but not validated" };
    if (c2paInvalid(c2pa)) return { cls: "warn", title: "Content credentials that do not validate" };
    return c2pa.trusted
      ? { cls: "real", title: "Valid content credentials from a trusted signer" }
      : { cls: "other", title: "Valid content credentials; the signer is not on the trust list" };
  }
  if ((provenance.claims || []).length) return { cls: "other", title: "Metadata about its origin; no AI declaration" };
  return { cls: "none", title: "No content credentials." };
}

/** What the credentials did to the verdict, in a sentence. */
export function verdictNote(result) {
  const provenance = result.provenance;
  if (result.verdict_reason) {
    const said = { fake: "likely manipulated", inconclusive: "inconclusive", real: "no sign of manipulation",
      no_face: "no face found" };
    const classifier = said[result.classifier_verdict] || "no verdict";
    const score = typeof result.score === "number" ? `, ${scoreName(result.score, result)}` : "";
    return `Verdict overridden to fake: ${result.verdict_reason}. The model alone said: ${classifier}${score}.`;
  }
  const c2pa = provenance.c2pa;
  if ((provenance.claims || []).length || (c2pa && c2pa.present)) {
    return "Shown for information; the model decides the verdict. Only a declaration of AI generation " +
      "changes it: metadata is easily removed or copied, so it proves little about the pixels.";
  }
  return "That proves nothing either way: most photos, and most fakes, carry none.";
}

function yesNo(value, yes, no) {
  if (value === true) return yes;
  if (value === false) return no;
  return null;
}

function pairs(rows) {
  const dl = el("dl", { class: "kv" });
  for (const [key, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", { text: key }), el("dd", { text: String(value) }));
  }
  return dl.children.length ? dl : null;
}

/** "Canon EOS R5" from make "Canon" and model "Canon EOS R5" (the maker once). */
export function cameraWords(make, model) {
  const m = (make || "").trim();
  const n = (model || "").trim();
  if (!m || !n) return m || n || null;
  return n.toLowerCase().startsWith(m.toLowerCase()) ? n : `${m} ${n}`;
}

/** EXIF's capture time as written by the camera's clock: "2024-05-01 14:03:22 (UTC+02:00)". */
export function captureWords(value) {
  if (!value) return null;
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})([+-]\d{2}:\d{2})?$/.exec(value);
  if (!match) return `${value} (as written)`;
  const zone = match[3] ? ` (UTC${match[3]})` : " (camera's clock, time zone not recorded)";
  return `${match[1]} ${match[2]}${zone}`;
}

function claimItem(claim) {
  const c2pa = claim.source === "c2pa";
  // EXIF's camera facts: shown for information, they never change the verdict.
  const software = claim.software || null;
  const badge = claim.declared_ai
    ? el("span", { class: "badge fake", text: "declares AI generation" })
    : el("span", { class: "badge", text: "no AI declaration" });
  const rows = [
    ["Declares", claim.reason || sourceTypeWords(claim.digital_source_type)],
    ["Source type", claim.reason ? sourceTerm(claim.digital_source_type) : null],
    ["Made with", software && claim.generator === software && !claim.declared_ai ? null : claim.generator],
    ["Taken", captureWords(claim.captured_at)],
    ["Camera", cameraWords(claim.camera_make, claim.camera_model)],
    ["Software", software],
    ["Signed by", c2pa ? claim.signer || (claim.active ? "nobody named" : null) : null],
    ["Signature", yesNo(claim.signature_valid, "valid", "does not validate")],
    ["Signer trusted", yesNo(claim.trusted, "yes, on the trust list", "no, not on the trust list")],
    ["Content hashes", yesNo(claim.hashes_match, "match the file", "do not match: the file changed after signing")],
    ["Manifest", claim.manifest ? `${claim.manifest}${claim.active ? " (active)" : ""}` : null],
  ];
  const item = el("li", { class: "claim" },
    el("p", { class: "claim-title" }, el("strong", { text: SOURCE_WORDS[claim.source] || claim.source }), " ", badge),
    pairs(rows));
  const raw = Object.entries(claim.raw || {});
  if (raw.length) {
    item.append(el("details", { class: "claim-raw" },
      el("summary", { text: `Fields found (${raw.length})` }),
      pairs(raw)));
  }
  return item;
}

/** The store as a whole; the signer, signature, trust and hashes only when no active manifest's
 * claim (listed above it) already shows them. */
function storeBlock(c2pa, claims) {
  if (!c2pa || !c2pa.present) return null;
  const shown = claims.some((claim) => claim.source === "c2pa" && claim.active);
  const failures = (c2pa.failures || []).join(", ");
  const status = !c2pa.validated ? "not validated" : c2pa.validation_state || (c2paInvalid(c2pa) ? "Invalid" : "Valid");
  const rows = [
    ["Validation", status],
    ["Signed by", shown ? null : c2pa.signer],
    ["Issuer", c2pa.issuer],
    ["Signed at", c2pa.signed_at],
    ["Written by", c2pa.claim_generator],
    ["Signature", shown ? null : yesNo(c2pa.signature_valid, "valid", "does not validate")],
    ["Signer trusted", shown ? null : yesNo(c2pa.trusted, "yes, on the trust list", "no, not on the trust list")],
    ["Content hashes", shown ? null
      : yesNo(c2pa.hashes_match, "match the file", "do not match: the file changed after signing")],
    ["Manifests", c2pa.manifests || null],
    ["Failures", failures],
    ["Remote manifest", c2pa.remote_url ? `${c2pa.remote_url} (never fetched)` : null],
    ["Why not validated", c2pa.error],
  ];
  const list = pairs(rows);
  return list ? el("div", { class: "c2pa-store" }, el("h4", { text: "Manifest store" }), list) : null;
}

export function renderCredentials(result) {
  const panel = $("credentials");
  const provenance = result.provenance;
  panel.hidden = !provenance;
  if (!provenance) return;
  const state = credentialState(provenance);
  // Nothing to show: one short line, so that most results do not grow by a panel.
  panel.classList.toggle("empty", state.cls === "none" && !(provenance.errors || []).length);
  const headline = $("credentials-state");
  headline.className = `credentials-state ${state.cls}`;
  headline.textContent = state.title;
  $("credentials-note").textContent = verdictNote(result);
  const claims = $("credentials-claims");
  claims.replaceChildren(...(provenance.claims || []).map(claimItem));
  claims.hidden = !claims.children.length;
  const body = $("credentials-more");
  body.replaceChildren();
  const store = storeBlock(provenance.c2pa, provenance.claims || []);
  if (store) body.append(store);
  const errors = provenance.errors || [];
  if (errors.length) {
    body.append(el("details", { class: "credentials-errors" },
      el("summary", { text: `Could not be read (${errors.length})` }),
      el("ul", null, ...errors.map((text) => el("li", { text })))));
  }
}

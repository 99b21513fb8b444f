// dlp-proxy console: lists incidents from the API, and opens sealed evidence in this page with
// the responder's private key file (X25519 + HKDF-SHA256 + AES-256-GCM, as sealing.py seals).
// The key file is read here and never sent anywhere; text from incidents is always set as
// textContent, never as HTML.
"use strict";

const HKDF_INFO = "dlp-proxy evidence key v1";
const ALGORITHM = "X25519-HKDF-SHA256-A256GCM";
let token = null;
let current = null; // the incident shown in the detail view

function $(selector) {
  return document.querySelector(selector);
}

function element(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function status(text) {
  $("#status").textContent = text;
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json();
  if (response.status === 401) {
    refuse(body.error);
    throw new Error(body.error);
  }
  if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
  return body;
}

function refuse(reason) {
  $("#app").hidden = true;
  $("#refused").hidden = false;
  if (reason) $("#refused-reason").textContent = reason;
  status("refused");
}

// --- the list, the filters, the charts ---------------------------------------------------------

function filterQuery() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData($("#filters"))) {
    if (String(value).trim()) params.set(name, String(value).trim());
  }
  return params.toString();
}

async function load() {
  const query = filterQuery();
  status("loading");
  try {
    const [list, stats] = await Promise.all([
      api("/api/incidents?" + query),
      api("/api/stats?" + query),
    ]);
    renderList(list.incidents, list.total);
    renderBars($("#chart-day"), stats.by_day);
    renderBars($("#chart-vendor"), stats.by_vendor);
    renderBars($("#chart-rule"), stats.by_rule);
    status(list.total + " incidents");
  } catch (error) {
    status("error: " + error.message);
  }
}

function renderList(incidents, total) {
  const body = $("#list tbody");
  body.replaceChildren();
  $("#count").textContent = incidents.length < total
    ? "the newest " + incidents.length + " of " + total + " incidents (narrow the filters to see others)"
    : incidents.length + " incidents";
  for (const incident of incidents.slice().reverse()) {
    const row = element("tr");
    row.dataset.id = incident.id;
    const entities = Object.entries(incident.entities).map(([e, n]) => e + " x" + n).join(", ");
    for (const value of [
      incident.time, incident.id, incident.outcome, incident.vendor || "-", incident.client,
      incident.method + " " + incident.host + incident.path, incident.rules.join(", "),
      incident.severity || "-", entities,
    ]) {
      row.append(element("td", value));
    }
    row.addEventListener("click", () => show(incident.id));
    body.append(row);
  }
}

function renderBars(svg, counts) {
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const entries = Object.entries(counts);
  const width = 420, height = 160, bottom = 30;
  const most = Math.max(1, ...entries.map(([, n]) => n));
  const step = entries.length ? width / entries.length : width;
  entries.forEach(([label, count], i) => {
    const barHeight = ((height - bottom - 12) * count) / most;
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("class", "bar");
    bar.setAttribute("x", String(i * step + 4));
    bar.setAttribute("y", String(height - bottom - barHeight));
    bar.setAttribute("width", String(Math.max(step - 8, 2)));
    bar.setAttribute("height", String(barHeight));
    const title = document.createElementNS(ns, "title");
    title.textContent = label + ": " + count;
    bar.append(title);
    const value = document.createElementNS(ns, "text");
    value.setAttribute("x", String(i * step + step / 2));
    value.setAttribute("y", String(height - bottom - barHeight - 2));
    value.setAttribute("text-anchor", "middle");
    value.textContent = String(count);
    const name = document.createElementNS(ns, "text");
    name.setAttribute("x", String(i * step + step / 2));
    name.setAttribute("y", String(height - bottom + 14));
    name.setAttribute("text-anchor", "middle");
    name.textContent = label.length > 14 ? label.slice(0, 13) + "…" : label;
    svg.append(bar, value, name);
  });
}

// --- one incident ------------------------------------------------------------------------------

async function show(id) {
  try {
    current = await api("/api/incidents/" + encodeURIComponent(id));
  } catch (error) {
    status("error: " + error.message);
    return;
  }
  const incident = current;
  $("#detail").hidden = false;
  $("#detail-id").textContent = incident.id;
  const fields = $("#detail-fields");
  fields.replaceChildren();
  const rows = [
    ["Time (UTC)", incident.time],
    ["Outcome", incident.outcome + (incident.blocking_rule ? " (rule " + incident.blocking_rule + ")" : "")],
    ["Client", incident.client],
    ["Vendor", incident.vendor || "-"],
    ["Request", incident.method + " " + incident.host + incident.path + " (" + incident.direction + ")"],
    ["Rules", incident.rules.join(", ") || "-"],
    ["Severity", incident.severity || "-"],
    ["Entities", Object.entries(incident.entities).map(([e, n]) => e + " x" + n).join(", ") || "-"],
    ["Policy", incident.policy + " (sha256 " + incident.policy_sha256.slice(0, 16) + "…)"],
    ["Body", incident.body_bytes + " bytes"],
    ["Chain", "#" + incident.chain.seq + " " + incident.chain.hash],
  ];
  if (incident.error) rows.push(["Error", incident.error]);
  for (const [name, value] of rows) fields.append(element("dt", name), element("dd", value));
  const findings = $("#detail-findings tbody");
  findings.replaceChildren();
  for (const f of incident.findings) {
    const row = element("tr");
    for (const value of [f.entity, f.location, f.score, f.recognizer, f.fingerprint]) {
      row.append(element("td", value));
    }
    findings.append(row);
  }
  renderReveals(incident.reveals);
  $("#evidence-text").textContent = "";
  $("#reveal-status").textContent = "";
  $("#evidence-kind").textContent = incident.evidence
    ? "Evidence: " + incident.evidence_kind + ", sealed to " +
      incident.evidence.recipients.map((r) => r.name + " (key " + r.kid + ")").join(", ")
    : "No evidence kept (" + incident.evidence_kind + ").";
  $("#reveal-form").hidden = !incident.evidence;
}

function renderReveals(reveals) {
  const list = $("#detail-reveals");
  list.replaceChildren();
  if (!reveals.length) list.append(element("li", "none"));
  for (const r of reveals) list.append(element("li", r.time + " by " + r.user + " (key " + r.key_id + ")"));
}

// --- opening sealed evidence -------------------------------------------------------------------

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function fromBase64Url(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return fromBase64(padded);
}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function pemToDer(pem) {
  const match = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (!match) throw new Error("this file is not a PEM private key (dlp-proxy responders keygen writes one)");
  return fromBase64(match[1].replace(/\s+/g, ""));
}

async function openSealed(envelope, pem, incidentId) {
  if (!crypto.subtle) throw new Error("WebCrypto needs a secure page: open the console on 127.0.0.1 or over HTTPS");
  if (envelope.alg !== ALGORITHM) throw new Error("unknown sealing " + envelope.alg);
  const subtle = crypto.subtle;
  const privateKey = await subtle.importKey("pkcs8", pemToDer(pem), { name: "X25519" }, true, ["deriveBits"]);
  const ownPublic = fromBase64Url((await subtle.exportKey("jwk", privateKey)).x);
  const keyId = hex(await subtle.digest("SHA-256", ownPublic)).slice(0, 16);
  const entry = envelope.recipients.find((r) => r.kid === keyId);
  if (!entry) {
    throw new Error("this evidence is not sealed to key " + keyId + "; it is sealed to key ids " +
      envelope.recipients.map((r) => r.kid).join(", "));
  }
  const epk = fromBase64(entry.epk);
  const ephemeral = await subtle.importKey("raw", epk, { name: "X25519" }, false, []);
  const shared = await subtle.deriveBits({ name: "X25519", public: ephemeral }, privateKey, 256);
  const hkdf = await subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  const kek = await subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: concat(epk, ownPublic), info: new TextEncoder().encode(HKDF_INFO) },
    hkdf, { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
  let plaintext;
  try {
    const contentKey = await subtle.decrypt({ name: "AES-GCM", iv: fromBase64(entry.nonce) }, kek, fromBase64(entry.wrapped));
    const cek = await subtle.importKey("raw", contentKey, { name: "AES-GCM" }, false, ["decrypt"]);
    plaintext = await subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(envelope.nonce), additionalData: new TextEncoder().encode(incidentId) },
      cek, fromBase64(envelope.ciphertext));
  } catch (error) {
    throw new Error("the evidence does not open with this key: it was altered, or it belongs to another incident");
  }
  return { keyId, evidence: JSON.parse(new TextDecoder().decode(plaintext)) };
}

async function bodyText(evidence) {
  let bytes = fromBase64(evidence.body_base64);
  const coding = (evidence.content_encoding || "").trim().toLowerCase();
  if (coding === "gzip" || coding === "deflate") {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(coding));
    bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  } else if (coding && coding !== "identity") {
    return "(body kept as received, " + coding + "; base64)\n" + evidence.body_base64;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    return "(binary body, base64)\n" + evidence.body_base64;
  }
}

async function readable(evidence) {
  const lines = [evidence.method + " " + evidence.url + " (" + evidence.direction + ")"];
  if (evidence.kind === "body") {
    for (const [name, value] of evidence.headers) lines.push(name + ": " + value);
    lines.push("", await bodyText(evidence));
  } else {
    for (const s of evidence.snippets) {
      lines.push(s.entity + " at " + s.location + " [" + s.start + ":" + s.end + "]: " + (s.text ?? "(text not available)"));
    }
  }
  return lines.join("\n");
}

async function reveal() {
  const file = $("#key-file").files[0];
  const incident = current;
  if (!file || !incident || !incident.evidence) {
    $("#reveal-status").textContent = "Choose your private key file first.";
    return;
  }
  $("#reveal-status").textContent = "Opening…";
  try {
    const opened = await openSealed(incident.evidence, await file.text(), incident.id);
    // Recorded before it is shown, as `dlp-proxy incidents reveal` does.
    await api("/api/incidents/" + encodeURIComponent(incident.id) + "/reveals", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key_id: opened.keyId }),
    });
    $("#evidence-text").textContent = await readable(opened.evidence);
    $("#reveal-status").textContent = "Revealed with key " + opened.keyId + "; the reveal is recorded.";
    const refreshed = await api("/api/incidents/" + encodeURIComponent(incident.id));
    renderReveals(refreshed.reveals);
  } catch (error) {
    $("#reveal-status").textContent = "Not revealed: " + error.message;
  }
}

// --- start ---------------------------------------------------------------------------------------

function start() {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromFragment) {
    sessionStorage.setItem("dlp-console-token", fromFragment);
    history.replaceState(null, "", location.pathname);
  }
  token = sessionStorage.getItem("dlp-console-token");
  if (!token) {
    refuse();
    return;
  }
  $("#app").hidden = false;
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("#reveal").addEventListener("click", reveal);
  load();
}

document.addEventListener("DOMContentLoaded", start);

// fabula desk: a manuscript written together with the model. Every piece of text from the server
// is put on the page with textContent, never as HTML; nothing here is inline (the page's CSP).
// The editor's text is the document's current version: it is saved (debounced) as the writer
// types, and always saved before a verb runs, so the verb's offsets are the server's offsets.
"use strict";

const $ = (id) => document.getElementById(id);
const desk = { key: sessionStorage.getItem("fabula-key") || "", ms: null, doc: null, dirty: false, saving: null, timer: null, last: null };

function text(el, value) { el.textContent = value == null ? "" : String(value); }
function el(tag, cls, value) { const e = document.createElement(tag); if (cls) e.className = cls; if (value != null) text(e, value); return e; }

function headers(json = true) {
  const h = json ? { "Content-Type": "application/json" } : {};
  if (desk.key) h.Authorization = "Bearer " + desk.key;
  return h;
}

async function api(path, options = {}) {
  const reply = await fetch(path, { ...options, headers: headers() });
  if (reply.status === 401) { $("desk").hidden = true; $("signin-needed").hidden = false; throw new Error("sign in first"); }
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error ? body.error.message : reply.statusText);
  return body;
}

const ms = (suffix = "") => `/api/manuscripts/${encodeURIComponent(desk.ms)}${suffix}`;
const docPath = (suffix = "") => ms(`/documents/${encodeURIComponent(desk.doc)}${suffix}`);

function status(message, error = false) { const s = $("verb-status"); text(s, message); s.className = error ? "error" : ""; }

// ---- manuscripts and documents --------------------------------------------------------------

async function start() {
  try {
    const me = await api("/api/me");
    text($("who"), me.user ? "signed in as " + me.user : "local mode");
    $("desk").hidden = false;
    await listManuscripts();
  } catch (err) { status(err.message, true); }
}

async function listManuscripts() {
  const { manuscripts } = await api("/api/manuscripts");
  const list = $("ms-list"); list.replaceChildren();
  for (const m of manuscripts) {
    const item = el("li", m.id === desk.ms ? "current" : "", `${m.title} (${m.documents})`);
    item.addEventListener("click", () => openManuscript(m.id));
    list.appendChild(item);
  }
  if (!desk.ms && manuscripts.length) await openManuscript(manuscripts[0].id);
}

async function openManuscript(id, docId = null) {
  await flush();
  desk.ms = id;
  const m = await api(ms());
  const list = $("doc-list"); list.replaceChildren();
  for (const d of m.documents) {
    const item = el("li", "", d.title);
    item.dataset.doc = d.id;
    item.addEventListener("click", () => openDocument(m, d.id));
    list.appendChild(item);
  }
  showBible(m.bible);
  await listManuscripts();
  if (m.documents.length) await openDocument(m, docId || m.documents[0].id);
}

async function openDocument(m, docId) {
  await flush();
  desk.doc = docId;
  for (const item of $("doc-list").children) item.className = item.dataset.doc === docId ? "current" : "";
  const fresh = await api(ms());
  const doc = fresh.documents.find((d) => d.id === docId);
  showDocument(doc);
  $("candidates").replaceChildren(); $("notes").replaceChildren();
  await showHistory();
}

function showDocument(doc) {
  const editor = $("editor");
  editor.disabled = false;
  editor.value = doc.text;
  desk.head = doc.head;
  showShares(doc.attribution);
  desk.dirty = false; text($("save-status"), "saved");
}

function showShares(a) {
  const total = a.human_chars + a.model_chars || 1;
  text($("shares"), `${a.human_chars} characters yours, ${a.model_chars} the model's (${Math.round((100 * a.model_chars) / total)}%)`);
}

$("ms-file").addEventListener("change", async () => {
  const file = $("ms-file").files[0];
  if (!file) return;
  $("ms-new-text").value = await file.text();
  if ($("ms-new-title").value === "Untitled") $("ms-new-title").value = file.name.replace(/\.[^.]+$/, "");
});

$("ms-create").addEventListener("click", async () => {
  try {
    const made = await api("/api/manuscripts", { method: "POST", body: JSON.stringify({ title: $("ms-new-title").value, text: $("ms-new-text").value }) });
    $("ms-new-box").open = false;
    await openManuscript(made.id);
  } catch (err) { status(err.message, true); }
});

// ---- autosave --------------------------------------------------------------------------------

$("editor").addEventListener("input", () => {
  desk.dirty = true; text($("save-status"), "editing…");
  clearTimeout(desk.timer);
  desk.timer = setTimeout(flush, 700);
});

async function flush() {
  clearTimeout(desk.timer);
  if (desk.saving) await desk.saving;
  if (!desk.dirty || !desk.doc) return;
  desk.dirty = false;
  text($("save-status"), "saving…");
  desk.saving = api(docPath(), { method: "PUT", body: JSON.stringify({ text: $("editor").value }) })
    .then((doc) => { desk.head = doc.head; showShares(doc.attribution); text($("save-status"), "saved"); return showHistory(); })
    .catch((err) => { desk.dirty = true; text($("save-status"), "not saved: " + err.message); })
    .finally(() => { desk.saving = null; });
  await desk.saving;
}

window.addEventListener("beforeunload", (event) => { if (desk.dirty) { flush(); event.preventDefault(); } });

function selection() {
  const e = $("editor");
  return { start: e.selectionStart, end: e.selectionEnd };
}

for (const kind of ["select", "keyup", "mouseup"]) {
  $("editor").addEventListener(kind, () => {
    const { start, end } = selection();
    text($("selection-info"), start === end ? `cursor at ${start}` : `selected ${start}..${end} (${end - start} characters)`);
  });
}

// ---- verbs -----------------------------------------------------------------------------------

async function runVerb(verb, extra = {}) {
  if (!desk.doc) return;
  await flush();
  const { start, end } = selection();
  const body = { n: Number($("n").value) || 3, ...extra };
  if (verb === "continue") { body.start = extra.start ?? end; body.end = body.start; }
  else if (start !== end) { body.start = start; body.end = end; }
  const instruction = $("instruction").value.trim();
  if ((verb === "rewrite" || verb === "brainstorm") && instruction) body.instruction = instruction;
  for (const b of document.querySelectorAll("#toolbar button")) b.disabled = true;
  status(`${verb}…`);
  const parent = desk.head;
  try {
    const reply = await streamVerb(docPath(`/verbs/${verb}`), { ...body, stream: true });
    if (reply.provenance.node) {
      desk.last = { node: reply.provenance.node, parent, start: reply.provenance.selection[0], verb };
      $("editor").value = reply.document; desk.head = reply.head;
      showShares(reply.provenance.attribution);
      showCandidates(reply);
      const at = reply.provenance.selection[0];
      $("editor").setSelectionRange(at, at + reply.text.length);
    } else {
      showNotes(reply);
    }
    status(`${verb}: ${reply.candidates.length} candidate${reply.candidates.length === 1 ? "" : "s"}`);
    await showHistory();
  } catch (err) { status(err.message, true); }
  finally { for (const b of document.querySelectorAll("#toolbar button")) b.disabled = false; }
}

// A verb's candidates appear as they are written (server-sent events), each in a card of its own;
// the answer at the end is what was saved, and replaces them.
async function streamVerb(path, body) {
  const reply = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) });
  if (!reply.ok) { const err = await reply.json(); throw new Error(err.error ? err.error.message : reply.statusText); }
  const box = $("candidates"); box.replaceChildren();
  const drafts = new Map();
  const reader = reply.body.getReader(); const decoder = new TextDecoder(); let buffer = ""; let result = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const data = JSON.parse(event.slice(6));
      if (data.error) throw new Error(data.error.message);
      if (data.result) { result = data.result; continue; }
      if (!drafts.has(data.attempt)) {
        const card = el("article", "cand drafting");
        const prose = el("p", "cand-text");
        card.append(prose, el("p", "cand-why", "being written…"));
        box.appendChild(card); drafts.set(data.attempt, prose);
      }
      drafts.get(data.attempt).textContent += data.delta;
    }
  }
  if (!result) throw new Error("the answer was cut off before the end");
  return result;
}

for (const button of document.querySelectorAll("#toolbar button[data-verb]")) {
  button.addEventListener("click", () => runVerb(button.dataset.verb));
}

// Why this candidate, in words a writer reads; the figures stay behind "details".
function reason(c, i, reply) {
  const parts = [];
  if (i === reply.chosen) parts.push(i === 0 ? "Put in first: the model was surest of its words here." : "The one you picked.");
  else parts.push(i === 0 ? "The model was surest of this one." : `The model was less sure of this one than of number ${Math.min(i, reply.chosen) + 1}.`);
  if (c.sense) parts.push(`Through ${c.sense}.`);
  const contract = { shrink: "Shorter than your selection", expand: "Longer than your selection" }[reply.verb];
  if (contract) parts.push(`${contract}: ${c.why.replace("characters against the passage's", "characters, yours")}.`);
  return parts.join(" ");
}

function showCandidates(reply) {
  const box = $("candidates"); box.replaceChildren();
  reply.candidates.forEach((c, i) => {
    const card = el("article", i === reply.chosen ? "cand applied" : "cand");
    card.dataset.index = String(i);
    const prose = el("p", "cand-text");
    if (c.alternatives && c.alternatives.length) {
      const shown = c.alternatives.map((t) => t.token).join("");
      c.alternatives.forEach((t, k) => {
        const span = el("span", "tok", t.token);
        span.dataset.k = String(k);
        span.addEventListener("mouseenter", () => showAlternatives(span, c, k, reply));
        span.addEventListener("click", () => showAlternatives(span, c, k, reply));
        prose.appendChild(span);
      });
      if (c.text.length > shown.length) prose.appendChild(document.createTextNode(c.text.slice(shown.length)));
    } else {
      text(prose, c.text);
    }
    const why = el("p", "cand-why", reason(c, i, reply));
    const details = el("details");
    details.appendChild(el("summary", "", "details"));
    const figures = [`seed ${c.seed}`, `${c.completion_tokens} tokens`];
    if (c.mean_logprob != null) figures.push(`mean log-probability ${c.mean_logprob}`);
    if (c.first_token_s != null) figures.push(`first token after ${c.first_token_s} s`);
    figures.push(c.why);
    details.appendChild(el("p", "", figures.join(" · ")));
    const use = el("button", "use", i === reply.chosen ? "In the text" : "Use this");
    use.type = "button"; use.disabled = i === reply.chosen;
    use.addEventListener("click", () => swipeTo(reply, i));
    card.append(prose, why, details, use);
    box.appendChild(card);
  });
  const bar = el("p", "cand-bar");
  const dismiss = el("button", "", "Dismiss all (back to before)");
  dismiss.type = "button"; dismiss.id = "dismiss";
  dismiss.addEventListener("click", () => move({ to: "restore", node: desk.last.parent }, true));
  bar.append(el("span", "", `${reply.candidates.length} candidates · `), dismiss);
  box.prepend(bar);
}

async function swipeTo(reply, index) {
  try {
    const doc = await api(docPath("/move"), { method: "POST", body: JSON.stringify({ to: "swipe", node: desk.last.node, candidate: index + 1 }) });
    $("editor").value = doc.text; desk.head = doc.head; showShares(doc.attribution);
    desk.last.node = doc.head;
    showCandidates({ ...reply, chosen: index });
    status(`using candidate ${index + 1}`);
    await showHistory();
  } catch (err) { status(err.message, true); }
}

function showAlternatives(span, candidate, k, reply) {
  const box = $("alts"); box.replaceChildren();
  for (const open of document.querySelectorAll(".tok.open")) open.classList.remove("open");
  span.classList.add("open");
  const token = candidate.alternatives[k];
  if (!token.top.length) { box.hidden = true; return; }  // the alternative picked before: nothing to offer
  for (const alt of token.top) {
    const b = el("button", "alt");
    b.type = "button";
    b.appendChild(el("span", "p", `${Math.round(100 * Math.exp(alt.logprob))}%`));
    b.appendChild(document.createTextNode(JSON.stringify(alt.token)));
    b.addEventListener("click", () => continueFrom(candidate, k, alt.token));
    box.appendChild(b);
  }
  const rect = span.getBoundingClientRect();
  box.style.left = `${rect.left + window.scrollX}px`;
  box.style.top = `${rect.bottom + window.scrollY + 2}px`;
  box.hidden = false;
}

document.addEventListener("click", (event) => { if (!event.target.closest("#alts, .tok")) $("alts").hidden = true; });

// Continue from another token: back to the version before the continuation, then continue with
// the tokens before it and the picked alternative as the lead.
async function continueFrom(candidate, k, token) {
  $("alts").hidden = true;
  const lead = candidate.alternatives.slice(0, k).map((t) => t.token).join("") + token;
  const { parent, start } = desk.last;
  try {
    const doc = await api(docPath("/move"), { method: "POST", body: JSON.stringify({ to: "restore", node: parent }) });
    $("editor").value = doc.text; desk.head = doc.head;
    await runVerb("continue", { start, lead });
  } catch (err) { status(err.message, true); }
}

function showNotes(reply) {
  const box = $("notes"); box.replaceChildren();
  if (reply.items) {
    box.appendChild(el("h3", "", "Brainstorm"));
    const list = el("ol");
    for (const item of reply.items) list.appendChild(el("li", "", item));
    box.appendChild(list);
  } else if (reply.feedback) {
    box.appendChild(el("h3", "", "Feedback"));
    const list = el("dl");
    for (const [name, c] of Object.entries(reply.feedback)) {
      list.appendChild(el("dt", "", `${name}: ${c.score}/5`));
      list.appendChild(el("dd", "", `${c.comment} “${c.quote}”${c.evidence === "quoted" ? "" : " (the passage's closest sentence)"}`));
    }
    box.appendChild(list);
  }
}

// ---- history ----------------------------------------------------------------------------------

async function showHistory() {
  if (!desk.doc) return;
  const { nodes } = await api(docPath("/history"));
  const list = $("history"); list.replaceChildren();
  for (const n of nodes) {
    const item = el("li", n.head ? "head" : "");
    item.dataset.node = n.id;
    item.style.paddingLeft = `${n.depth * 0.8}rem`;
    const chosen = n.chosen != null ? ` #${n.chosen + 1}/${n.candidates}` : "";
    item.appendChild(el("span", "", `${n.verb}${chosen}`));
    const restore = el("button", "restore", "restore"); restore.type = "button"; restore.disabled = n.head;
    restore.addEventListener("click", () => move({ to: "restore", node: n.id }));
    const diff = el("button", "diff", "diff"); diff.type = "button";
    diff.addEventListener("click", () => showDiff(n.id));
    item.append(restore, diff);
    list.appendChild(item);
  }
}

async function showDiff(nodeId) {
  const reply = await api(docPath(`/diff?a=${encodeURIComponent(nodeId)}`));
  const box = $("diff"); box.hidden = false;
  text(box, reply.diff || "(the same text)");
}

async function move(body, clear = false) {
  await flush();
  try {
    const doc = await api(docPath("/move"), { method: "POST", body: JSON.stringify(body) });
    $("editor").value = doc.text; desk.head = doc.head; showShares(doc.attribution);
    if (clear) $("candidates").replaceChildren();
    status(`now at ${doc.head}`);
    await showHistory();
  } catch (err) { status(err.message, true); }
}

$("undo").addEventListener("click", () => move({ to: "undo" }));
$("redo").addEventListener("click", () => move({ to: "redo" }));

// ---- bible and export --------------------------------------------------------------------------

function showBible(entries) {
  const list = $("bible-list"); list.replaceChildren();
  for (const e of entries) {
    const item = el("li", "", `${e.name}${e.enabled === false ? " (off)" : ""}`);
    item.title = e.text;
    list.appendChild(item);
  }
}

$("bible-file").addEventListener("change", async () => {
  const file = $("bible-file").files[0];
  if (!file || !desk.ms) return;
  try {
    const reply = await api(ms("/bible/import"), { method: "POST", body: JSON.stringify({ lorebook: JSON.parse(await file.text()) }) });
    showBible(reply.entries);
    status(`${reply.entries.length} bible entries from ${reply.format}`);
  } catch (err) { status(err.message, true); }
});

async function download(path, name) {
  const reply = await fetch(path, { headers: headers(false) });
  if (!reply.ok) { status((await reply.json()).error.message, true); return; }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await reply.blob());
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

$("bible-export").addEventListener("click", () => {
  const format = $("bible-format").value;
  if (desk.ms) download(ms(`/bible?format=${format}`), `${desk.ms}.${format === "novelai" ? "lorebook" : "json"}`);
});

$("export").addEventListener("click", async () => {
  await flush();
  const format = $("export-format").value;
  if (desk.ms) download(ms(`/export?format=${format}`), `${desk.ms}.${format}`);
});

// ---- keyboard ----------------------------------------------------------------------------------

const KEYS = { c: "continue", r: "rewrite", e: "expand", s: "shrink", d: "describe", b: "brainstorm", f: "feedback" };
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey && event.key === "Enter") { event.preventDefault(); runVerb("continue"); return; }
  if (!event.altKey || event.ctrlKey) return;
  const key = event.key.toLowerCase();
  if (KEYS[key]) { event.preventDefault(); runVerb(KEYS[key]); }
  else if (key === "z") { event.preventDefault(); move({ to: "undo" }); }
  else if (key === "y") { event.preventDefault(); move({ to: "redo" }); }
});

start();

// fabula studio. Every piece of generated or stored text is put on the page with textContent,
// never as HTML, and nothing here is inline (the page's Content-Security-Policy forbids it).
"use strict";

const state = { key: sessionStorage.getItem("fabula-key") || "", controller: null };
const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  if (state.key) h.Authorization = "Bearer " + state.key;
  return h;
}

function text(el, value) { el.textContent = value == null ? "" : String(value); }

async function api(path, options = {}) {
  const reply = await fetch(path, { ...options, headers: headers() });
  if (reply.status === 401) { showLogin(); throw new Error("sign in first"); }
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error ? body.error.message : reply.statusText);
  return body;
}

function showLogin() { $("login").hidden = false; $("studio").hidden = true; }

async function start() {
  try {
    const me = await api("/api/me");
    text($("who"), me.user ? "signed in as " + me.user : "local mode");
    $("login").hidden = true; $("studio").hidden = false;
    const models = await api("/v1/models");
    const select = $("form");
    select.replaceChildren();
    for (const m of models.data) {
      if (!m.id.startsWith("fabula-")) continue;
      const option = document.createElement("option");
      option.value = m.id; text(option, m.id.slice(7));
      select.appendChild(option);
    }
    await refreshWorks();
  } catch (err) { text($("login-error"), err.message); }
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const reply = await fetch("/api/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: $("login-user").value, password: $("login-password").value }),
    });
    const body = await reply.json();
    if (!reply.ok) throw new Error(body.error.message);
    state.key = body.key; sessionStorage.setItem("fabula-key", body.key);
    await start();
  } catch (err) { text($("login-error"), err.message); }
});

function parseInputs(raw) {
  const inputs = {};
  for (const part of raw.split(",")) {
    const [k, ...v] = part.split("=");
    if (k.trim() && v.length) inputs[k.trim()] = v.join("=").trim();
  }
  return inputs;
}

$("write-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const out = $("output"); text(out, ""); $("checks").replaceChildren(); text($("status"), "writing…");
  const body = {
    model: $("form").value, stream: true,
    messages: [{ role: "user", content: $("prompt").value }],
    temperature: Number($("temperature").value), max_tokens: Number($("max-tokens").value),
    fabula: { inputs: parseInputs($("inputs").value) },
  };
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  state.controller = new AbortController(); $("stop").disabled = false; $("go").disabled = true;
  try {
    const reply = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), body: JSON.stringify(body), signal: state.controller.signal,
    });
    if (!reply.ok) { const err = await reply.json(); throw new Error(err.error.message); }
    const reader = reply.body.getReader(); const decoder = new TextDecoder(); let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const choice = chunk.choices[0];
        if (choice.delta && choice.delta.content) out.textContent += choice.delta.content;
        if (choice.finish_reason === "content_filter") { text(out, ""); text($("status"), "blocked by the safety policy"); }
        if (chunk.fabula) showChecks(chunk.fabula);
      }
    }
    if ($("status").textContent === "writing…") text($("status"), "done");
    await refreshWorks();
  } catch (err) { text($("status"), err.name === "AbortError" ? "stopped" : err.message); }
  finally { $("stop").disabled = true; $("go").disabled = false; }
});

$("stop").addEventListener("click", () => state.controller && state.controller.abort());

function showChecks(work) {
  const box = $("checks"); box.replaceChildren();
  const title = document.createElement("p");
  text(title, `work ${work.work_id}: ${work.passed ? "passed its checks" : "failed a check"}; originality ${work.originality.score}`);
  box.appendChild(title);
  for (const v of work.verdicts) {
    const line = document.createElement("div");
    line.className = v.passed ? "verdict-pass" : "verdict-fail";
    text(line, `${v.passed ? "✓" : "✗"} ${v.check}: ${v.detail}`);
    box.appendChild(line);
  }
}

async function refreshWorks() {
  const list = $("work-list"); list.replaceChildren();
  const { works } = await api("/api/works?limit=30");
  for (const w of works) {
    const item = document.createElement("li");
    text(item, `${w.form} · ${w.prompt.slice(0, 60)} · ${w.words} words`);
    item.addEventListener("click", () => showWork(w.id));
    list.appendChild(item);
  }
}

async function showWork(id) {
  const work = await api("/api/works/" + encodeURIComponent(id));
  $("work-view").hidden = false;
  text($("work-title"), `${work.form} ${work.id}`);
  text($("work-text"), work.text);
  text($("work-originality"), JSON.stringify(work.provenance.originality || {}, null, 1));
  const manifest = await api("/api/works/" + encodeURIComponent(id) + "/provenance");
  text($("work-provenance"), JSON.stringify(manifest, null, 1));
}

$("refresh").addEventListener("click", refreshWorks);
start();

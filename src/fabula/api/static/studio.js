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
  if (reply.status === 204) return {};
  if (reply.status === 401) { forgetKey(); showLogin(); throw new Error("sign in first"); }
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error ? body.error.message : reply.statusText);
  return body;
}

function showLogin() { $("login").hidden = false; $("studio").hidden = true; $("logout").hidden = true; }

function forgetKey() { state.key = ""; sessionStorage.removeItem("fabula-key"); }

// Sign out ends the session on the server too, not only in this tab.
$("logout").addEventListener("click", async () => {
  try { await fetch("/api/logout", { method: "POST", headers: headers() }); } catch (err) { /* gone anyway */ }
  forgetKey(); text($("who"), ""); showLogin();
});

async function start() {
  try {
    const me = await api("/api/me");
    text($("who"), me.user ? "signed in as " + me.user : "local mode");
    $("logout").hidden = !me.user;
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
    await refreshPlans();
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
  const out = $("output"); text(out, ""); $("checks").replaceChildren(); $("candidate-list").replaceChildren();
  text($("status"), "writing…");
  const wanted = Number($("candidates").value) || 1;
  const body = {
    model: $("form").value, stream: true,
    messages: [{ role: "user", content: $("prompt").value }],
    max_tokens: Number($("max-tokens").value), n: 1,
    fabula: { inputs: parseInputs($("inputs").value), creativity: Number($("creativity").value) },
  };
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  state.controller = new AbortController(); $("stop").disabled = false; $("go").disabled = true;
  if (wanted > 1) { body.stream = false; body.n = wanted; }
  try {
    if (!body.stream) {
      const reply = await api("/v1/chat/completions", { method: "POST", body: JSON.stringify(body), signal: state.controller.signal });
      const choice = reply.choices[0];
      if (choice.finish_reason === "content_filter") { text($("status"), "blocked by the safety policy"); return; }
      text(out, choice.message.content);
      if (choice.fabula && choice.fabula.work_id) { showChecks(choice.fabula); await showCandidates(choice.fabula.work_id); }
      text($("status"), "done");
      await refreshWorks();
      return;
    }
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
  } catch (err) { text($("status"), err.name === "AbortError" ? "stopped: the text so far stays here, nothing was saved" : err.message); }
  finally { $("stop").disabled = true; $("go").disabled = false; }
});

// Every candidate side by side: the prose first, why it was (or was not) chosen in plain words,
// and the scores and verdicts behind a details toggle; "Pick" makes one the work's text.
function plainReason(c, chosenIndex) {
  const failed = (c.verdicts || []).filter((v) => !v.passed).map((v) => v.check);
  if (c.chosen) return failed.length ? `Chosen, though it failed ${failed.join(", ")}: every candidate failed a check.` : "Chosen: it passed every check, and the model was surest of its words.";
  if (failed.length) return `Not chosen: it failed ${failed.join(", ")}.`;
  return `Not chosen: it passed every check, but scored below candidate ${chosenIndex + 1}.`;
}

async function showCandidates(workId) {
  const work = await api("/api/works/" + encodeURIComponent(workId));
  const box = $("candidate-list"); box.replaceChildren();
  const chosenIndex = work.candidates.findIndex((c) => c.chosen);
  work.candidates.forEach((c, i) => {
    const card = document.createElement("div");
    card.className = c.chosen ? "candidate chosen" : "candidate";
    const head = document.createElement("h4");
    text(head, `candidate ${i + 1}${c.chosen ? " (chosen)" : ""}`);
    const body = document.createElement("pre"); text(body, c.text);
    const why = document.createElement("p"); why.className = "why"; text(why, plainReason(c, chosenIndex));
    const details = document.createElement("details");
    const summary = document.createElement("summary"); text(summary, "scores and checks");
    const scores = document.createElement("p");
    text(scores, Object.entries(c.scores || {}).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(3) : v}`).join(" · "));
    const verdicts = document.createElement("ul");
    for (const v of c.verdicts || []) {
      const li = document.createElement("li"); li.className = v.passed ? "verdict-pass" : "verdict-fail";
      text(li, `${v.passed ? "✓" : "✗"} ${v.check}: ${v.detail}`); verdicts.appendChild(li);
    }
    details.append(summary, scores, verdicts);
    const pick = document.createElement("button"); pick.type = "button"; text(pick, "Pick this one");
    pick.className = "pick"; pick.disabled = c.chosen;
    pick.addEventListener("click", async () => {
      const picked = await api("/api/works/" + encodeURIComponent(workId) + "/pick", { method: "POST", body: JSON.stringify({ index: i }) });
      text($("output"), picked.text); text($("status"), `picked candidate ${i + 1}`);
      await showCandidates(workId); await refreshWorks();
    });
    card.append(head, body, why, details, pick); box.appendChild(card);
  });
}

$("creativity").addEventListener("input", () => text($("creativity-value"), $("creativity").value));

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
  state.work = work.id;
  $("work-view").hidden = false;
  text($("work-title"), `${work.form} ${work.id}`);
  text($("work-text"), work.text);
  text($("work-originality"), JSON.stringify(work.provenance.originality || {}, null, 1));
  const manifest = await api("/api/works/" + encodeURIComponent(id) + "/provenance");
  text($("work-provenance"), JSON.stringify(manifest, null, 1));
}

$("refresh").addEventListener("click", refreshWorks);

// Export: fetched with the key (a plain link could not carry it), saved from a local blob.
for (const button of document.querySelectorAll("button.export")) {
  button.addEventListener("click", async () => {
    if (!state.work) return;
    const format = button.dataset.format;
    const reply = await fetch(`/api/works/${encodeURIComponent(state.work)}/export?format=${format}`, { headers: headers() });
    if (!reply.ok) return;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await reply.blob());
    link.download = `${state.work}.${format}`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });
}

// ---- plans: write level by level, edit a level by hand, regenerate one, undo ----------------

async function waitForJob(jobId, status) {
  for (;;) {
    const job = await api("/api/jobs/" + encodeURIComponent(jobId));
    const p = job.progress || {};
    text(status, `${job.kind}: ${job.status}${p.step ? ` · ${p.step} (${p.done}/${p.total})` : ""}`);
    if (["done", "failed", "cancelled", "interrupted"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 700));
  }
}

$("plan-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = $("plan-status"); $("plan-go").disabled = true;
  try {
    const started = await api("/api/plans", { method: "POST", body: JSON.stringify({
      kind: $("plan-kind").value, logline: $("plan-logline").value, template: $("plan-template").value }) });
    const job = await waitForJob(started.job.id, status);
    if (job.status === "failed") text(status, job.error);
    await refreshPlans(); await showPlan(started.plan_id); await refreshWorks();
  } catch (err) { text(status, err.message); }
  finally { $("plan-go").disabled = false; }
});

async function refreshPlans() {
  const list = $("plan-list"); list.replaceChildren();
  const { plans } = await api("/api/plans");
  for (const p of plans) {
    const item = document.createElement("li");
    text(item, `${p.kind} · ${p.title || p.logline.slice(0, 50)} · ${p.steps_done}/${p.steps} steps`);
    item.addEventListener("click", () => showPlan(p.id));
    list.appendChild(item);
  }
}

async function showPlan(id) {
  const plan = await api("/api/plans/" + encodeURIComponent(id));
  state.plan = plan.id; $("plan-view").hidden = false;
  text($("plan-title"), `${plan.title || plan.logline} (${plan.steps_done}/${plan.steps} steps)`);
  const box = $("plan-levels"); box.replaceChildren();
  for (const [target, value] of Object.entries(plan.levels)) {
    const section = document.createElement("details");
    const summary = document.createElement("summary"); text(summary, target);
    const area = document.createElement("textarea"); area.rows = 6; area.value = value; area.className = "level";
    area.dataset.target = target;
    const save = document.createElement("button"); save.type = "button"; text(save, "Save edit");
    const redo = document.createElement("button"); redo.type = "button"; text(redo, "Regenerate");
    const note = document.createElement("span"); note.className = "status";
    save.addEventListener("click", async () => {
      try {
        await api(`/api/plans/${encodeURIComponent(plan.id)}/levels/${encodeURIComponent(target)}`,
          { method: "PUT", body: JSON.stringify({ text: area.value }) });
        text(note, "saved"); await showPlan(plan.id);
      } catch (err) { text(note, err.message); }
    });
    redo.addEventListener("click", async () => {
      try {
        const started = await api(`/api/plans/${encodeURIComponent(plan.id)}/regenerate`,
          { method: "POST", body: JSON.stringify({ target }) });
        await waitForJob(started.job.id, note); await showPlan(plan.id);
      } catch (err) { text(note, err.message); }
    });
    section.append(summary, area, save, redo, note); box.appendChild(section);
  }
  await showLedger(plan.id);
}

// ---- the continuity ledger beside the plan: contradictions with both sentences, state, pins ----

function cell(row, value) { const td = document.createElement("td"); text(td, value); row.appendChild(td); }

async function showLedger(id) {
  const ledger = await api(`/api/plans/${encodeURIComponent(id)}/ledger`);
  const found = $("ledger-contradictions"); found.replaceChildren();
  const problems = [...ledger.contradictions.map((c) => ({ head: `${c.kind}: ${c.detail}`, c })),
    ...ledger.unresolved.map((u) => ({ head: `unresolved in ${u.step}: ${u.problems.join("; ")}` }))];
  for (const { head, c } of problems) {
    const item = document.createElement("li"); text(item, head);
    if (c) for (const side of [c.first, c.second]) {
      const quote = document.createElement("blockquote");
      text(quote, side.pinned ? `pinned: ${side.sentence}` : `chapter ${side.chapter}: ${side.sentence}`);
      item.appendChild(quote);
    }
    found.appendChild(item);
  }
  if (!problems.length) { const item = document.createElement("li"); text(item, "no contradiction found"); found.appendChild(item); }
  const body = $("ledger-table").tBodies[0]; body.replaceChildren();
  for (const [name, who] of Object.entries(ledger.ledger.characters)) {
    const row = document.createElement("tr");
    cell(row, name);
    cell(row, who.alive && who.alive.value === false ? `no (chapter ${who.alive.chapter})` : "yes");
    cell(row, who.place ? who.place.value : "");
    cell(row, (who.holds || []).map((h) => h.value).join(", "));
    cell(row, Object.entries(who.attributes || {}).map(([k, v]) => `${k} ${v.value}`).join(", "));
    cell(row, (who.relations || []).map((r) => r.value).join(", "));
    body.appendChild(row);
  }
  const pins = $("ledger-pins"); pins.replaceChildren();
  for (const p of ledger.pins) {
    const item = document.createElement("li");
    text(item, `${p.entity} ${p.attribute} ${p.value} from unit ${p.unit} `);
    const drop = document.createElement("button"); drop.type = "button"; text(drop, "Unpin");
    drop.addEventListener("click", async () => {
      try { await api(`/api/plans/${encodeURIComponent(id)}/ledger/pins/${p.number}`, { method: "DELETE" }); await showLedger(id); }
      catch (err) { text($("ledger-status"), err.message); }
    });
    item.appendChild(drop); pins.appendChild(item);
  }
}

$("pin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!state.plan) return;
  try {
    await api(`/api/plans/${encodeURIComponent(state.plan)}/ledger/pins`, { method: "POST", body: JSON.stringify({
      entity: $("pin-entity").value, attribute: $("pin-attribute").value, value: $("pin-value").value,
      from: Number($("pin-from").value) }) });
    text($("ledger-status"), "pinned"); await showLedger(state.plan);
  } catch (err) { text($("ledger-status"), err.message); }
});

$("plan-undo").addEventListener("click", async () => {
  if (!state.plan) return;
  try { await api(`/api/plans/${encodeURIComponent(state.plan)}/undo`, { method: "POST" }); await showPlan(state.plan); }
  catch (err) { text($("plan-status"), err.message); }
});

start();

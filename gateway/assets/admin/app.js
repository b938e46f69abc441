// The operator dashboard's script: logs in, follows the dashboard by Server-Sent Events
// (/admin/api/events) and renders it; no framework, no timer polling. Rows are updated in place
// (keyed by id), so a focused button keeps its focus when a new snapshot arrives.
"use strict";

const STATES = ["created", "succeeded", "failed", "cancelled", "retrying"];
const SVG = "http://www.w3.org/2000/svg";
let source = null;
let latest = null;

const $ = (id) => document.getElementById(id);

function announce(text) {
  $("status").textContent = text;
}

// What the last button did, in a live region of its own (snapshots do not overwrite it).
function tell(text) {
  $("action-status").textContent = text;
}

// A POST (or GET) to the dashboard's API: same origin, the cookie, the CSRF header. A 401
// outside /admin/session (the access token expired) renews the session once and asks again.
async function call(method, path, body) {
  let answer = await send(method, path, body);
  if (answer.response.status === 401 && !path.startsWith("/admin/session") && (await renew())) {
    answer = await send(method, path, body);
  }
  return answer;
}

async function send(method, path, body) {
  const headers = { "X-Swatter-Admin": "1", Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  return { response, data };
}

// Renews the session from the refresh cookie (the refresh token rotates, and a token used twice
// ends the login), so one renewal at a time: one per page, and one per browser where Web Locks
// exist. Renewals in turn are safe: each sends the cookie the one before it set.
let renewing = null;
function renew() {
  if (!renewing) {
    const once = async () => {
      const { response, data } = await send("POST", "/admin/session/refresh");
      if (response.ok) {
        $("who").textContent = "Logged in as " + data.username;
        $("who").hidden = false;
      }
      return response.ok;
    };
    const run = navigator.locks ? navigator.locks.request("swatter-admin-session", once) : once();
    renewing = run.catch(() => false).finally(() => {
      renewing = null;
    });
  }
  return renewing;
}

function showLogin(message) {
  if (source) {
    source.close();
    source = null;
  }
  $("main").hidden = true;
  $("logout").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  announce(message || "Log in to see the dashboard.");
  $("username").focus();
}

function showDashboard() {
  $("login").hidden = true;
  $("main").hidden = false;
  $("logout").hidden = false;
}

async function logIn(event) {
  event.preventDefault();
  const button = $("login-button");
  button.disabled = true;
  $("login-error").textContent = "";
  try {
    const { response, data } = await call("POST", "/admin/session", {
      username: $("username").value,
      password: $("password").value,
    });
    if (!response.ok) {
      const detail = (data && data.detail) || "The login failed.";
      $("login-error").textContent =
        response.status === 403 ? detail : "Login refused: " + detail;
      return;
    }
    $("password").value = "";
    $("who").textContent = "Logged in as " + data.username;
    $("who").hidden = false;
    showDashboard();
    follow();
    $("main").focus();
  } finally {
    button.disabled = false;
  }
}

async function logOut() {
  await call("POST", "/admin/session/logout");
  showLogin("You are logged out.");
}

// Follows the dashboard; when the stream fails, asks once whether the session is still good:
// 401 shows the login form, anything else reconnects.
function follow() {
  if (source) source.close();
  source = new EventSource("/admin/api/events");
  source.addEventListener("dashboard", (event) => {
    render(JSON.parse(event.data));
  });
  source.addEventListener("error", async () => {
    if (source && source.readyState === EventSource.CONNECTING) return; // the browser reconnects
    const { response, data } = await call("GET", "/admin/api/dashboard");
    if (response.status === 401) {
      showLogin("Your session has ended; log in again.");
    } else if (response.ok) {
      render(data);
      follow();
    } else {
      announce("The dashboard is unavailable (" + response.status + "); reconnecting.");
      setTimeout(follow, 3000);
    }
  });
}

function age(iso, now) {
  if (!iso) return "—";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return seconds + " s ago";
  if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
  return Math.round(seconds / 3600) + " h ago";
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "—";
}

function shortId(id) {
  return id ? id.slice(0, 8) + "…" + id.slice(-4) : "—";
}

function cell(row, index) {
  while (row.cells.length <= index) row.insertCell();
  return row.cells[index];
}

function setText(element, text) {
  text = String(text);
  if (element.textContent !== text) element.textContent = text;
}

// Keeps `tbody`'s rows in the order of `items`, keyed by `key(item)`: existing rows are updated
// in place by `fill(row, item)`, new ones made, gone ones removed.
function syncRows(table, items, key, fill) {
  const tbody = $(table).tBodies[0];
  const existing = new Map();
  for (const row of Array.from(tbody.rows)) existing.set(row.dataset.key, row);
  items.forEach((item, index) => {
    const k = key(item);
    let row = existing.get(k);
    existing.delete(k);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.key = k;
    }
    fill(row, item);
    if (tbody.rows[index] !== row) tbody.insertBefore(row, tbody.rows[index] || null);
  });
  for (const row of existing.values()) row.remove();
  $(table + "-empty").hidden = items.length > 0;
}

function idCell(row, index, id) {
  const c = cell(row, index);
  c.className = "id";
  c.title = id || "";
  setText(c, shortId(id));
}

function stateCell(row, index, state) {
  const c = cell(row, index);
  c.className = "state state-" + state;
  setText(c, state);
}

// The cell's action buttons: one per `[action, label]`, made once and kept.
function actionsCell(row, index, actions, target) {
  const c = cell(row, index);
  c.className = "actions";
  const wanted = actions.map(([action]) => action).join(",");
  if (c.dataset.actions !== wanted) {
    c.textContent = "";
    for (const [action, label] of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.action = action;
      button.textContent = label;
      c.appendChild(button);
    }
    c.dataset.actions = wanted;
  }
  for (const button of c.querySelectorAll("button")) {
    button.dataset.target = target;
    button.setAttribute("aria-label", button.textContent + " " + target);
  }
}

function jobRow(row, job) {
  row.dataset.jobId = job.id;
  row.dataset.state = job.state;
}

function render(d) {
  latest = d;
  showDashboard();
  const now = Date.parse(d.at);
  renderSummary(d);
  renderCharts(d);
  syncRows("workers", d.workers, (w) => w.id, (row, w) => {
    setText(cell(row, 0), w.hostname);
    idCell(row, 1, w.id);
    const alive = cell(row, 2);
    alive.className = w.alive ? "alive-yes" : "alive-no";
    setText(alive, w.alive ? "yes" : "no (silent)");
    setText(cell(row, 3), w.job_ids.length ? w.job_ids.map(shortId).join(", ") : "idle");
    cell(row, 3).title = w.job_ids.join(", ");
    setText(cell(row, 4), age(w.last_heartbeat_at, now));
  });
  syncRows("active-jobs", d.active_jobs, (j) => j.id, (row, j) => {
    jobRow(row, j);
    idCell(row, 0, j.id);
    setText(cell(row, 1), j.kind);
    stateCell(row, 2, j.state);
    setText(cell(row, 3), j.progress + " %");
    setText(cell(row, 4), j.attempts + " of " + j.max_attempts);
    setText(cell(row, 5), age(j.created_at, now));
    actionsCell(row, 6, [["cancel", "Cancel"]], j.id);
  });
  syncRows("failed-jobs", d.failed_jobs, (j) => j.id, (row, j) => {
    jobRow(row, j);
    idCell(row, 0, j.id);
    setText(cell(row, 1), j.kind);
    stateCell(row, 2, j.state);
    const error = cell(row, 3);
    error.className = "job-error";
    setText(error, j.error ? j.error.kind + ": " + j.error.message : "—");
    setText(cell(row, 4), time(j.finished_at));
    actionsCell(row, 5, [["retry", "Retry"]], j.id);
  });
  syncRows("dead-letters", d.dead_letters, (l) => l.id, (row, l) => {
    row.dataset.jobId = l.job_id || "";
    setText(cell(row, 0), time(l.dead_lettered_at));
    idCell(row, 1, l.job_id);
    setText(cell(row, 2), l.reason);
    setText(cell(row, 3), l.job ? l.job.state : "gone");
    // Requeue while the job can run again (failed or cancelled); discard always.
    const again = l.job && (l.job.state === "failed" || l.job.state === "cancelled");
    const actions = again ? [["requeue", "Requeue"], ["discard", "Discard"]] : [["discard", "Discard"]];
    actionsCell(row, 4, actions, l.id);
  });
  setText($("dead-title"), "Dead letters (" + d.dead_letter_count + ")");
  syncRows("schedules", d.schedules, (s) => s.id, (row, s) => {
    setText(cell(row, 0), s.name || shortId(s.id));
    setText(cell(row, 1), s.cron);
    setText(cell(row, 2), s.time_zone);
    setText(cell(row, 3), s.paused ? "paused" : time(s.next_run_at));
    setText(cell(row, 4), time(s.last_run_at));
  });
  const s = d.stats;
  announce(
    "Live, updated " + time(d.at) + ": " + d.active_jobs.length + " active, " +
      (s.jobs_by_state.failed || 0) + " failed, " + d.dead_letter_count + " dead letters."
  );
}

function renderSummary(d) {
  const s = d.stats;
  const items = [
    ["Queued", s.jobs_by_state.queued],
    ["Running", s.jobs_by_state.running],
    ["Retrying", s.jobs_by_state.retrying],
    ["Succeeded", s.jobs_by_state.succeeded],
    ["Failed", s.jobs_by_state.failed],
    ["Cancelled", s.jobs_by_state.cancelled],
    ["Queue depth", s.queue_depth],
    ["Dead letters", s.dead_lettered],
    ["Oldest queued", s.oldest_queued_age_seconds + " s"],
  ];
  const dl = $("summary");
  if (dl.children.length !== items.length) {
    dl.textContent = "";
    for (const [label] of items) {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      dt.textContent = label;
      div.append(dt, document.createElement("dd"));
      dl.appendChild(div);
    }
  }
  items.forEach(([, value], i) => setText(dl.children[i].lastChild, value === undefined ? 0 : value));
}

// The 60 minutes up to the snapshot, each with its counts for the chosen kind (or all).
function minutes(d) {
  const kind = $("kind").value;
  const end = Math.floor(Date.parse(d.at) / 60000) * 60000;
  const slots = [];
  for (let i = 59; i >= 0; i--) {
    const counts = {};
    for (const s of STATES) counts[s] = 0;
    slots.push({ at: end - i * 60000, counts, avg: 0, max: 0, weight: 0 });
  }
  const kinds = new Set();
  for (const a of d.activity) {
    kinds.add(a.kind);
    if (kind && a.kind !== kind) continue;
    const index = 59 - Math.round((end - Date.parse(a.minute)) / 60000);
    const slot = slots[index];
    if (!slot) continue;
    for (const s of STATES) slot.counts[s] += a.counts[s] || 0;
    const n = a.counts.succeeded || 0;
    if (n > 0) {
      slot.avg = (slot.avg * slot.weight + a.run_seconds_avg * n) / (slot.weight + n);
      slot.weight += n;
      slot.max = Math.max(slot.max, a.run_seconds_max);
    }
  }
  const select = $("kind");
  for (const k of kinds) {
    if (!Array.from(select.options).some((o) => o.value === k)) {
      const option = document.createElement("option");
      option.value = k;
      option.textContent = k;
      select.appendChild(option);
    }
  }
  return slots;
}

function svg(tag, attributes, parent) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (parent) parent.appendChild(element);
  return element;
}

const W = 600;
const H = 180;
const PAD = { left: 36, right: 8, top: 8, bottom: 22 };

// An empty chart with its axes and a y scale up to `top`; returns the svg and scale helpers.
function frame(container, label, top) {
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (i * plotW) / 60;
  const y = (v) => PAD.top + plotH - (top > 0 ? (v * plotH) / top : 0);
  svg("line", { class: "axis", x1: PAD.left, y1: PAD.top + plotH, x2: W - PAD.right, y2: PAD.top + plotH }, root);
  svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: PAD.top + plotH }, root);
  svg("text", { x: 2, y: PAD.top + 10 }, root).textContent = String(Math.round(top * 10) / 10);
  svg("text", { x: 2, y: PAD.top + plotH }, root).textContent = "0";
  svg("text", { x: PAD.left, y: H - 4 }, root).textContent = "−60 min";
  svg("text", { x: W - PAD.right - 24, y: H - 4 }, root).textContent = "now";
  container.replaceChildren(root);
  return { root, x, y, barW: plotW / 60 - 1 };
}

function total(values) {
  return values.reduce((a, b) => a + b, 0);
}

function renderCharts(d) {
  const slots = minutes(d);
  // Jobs by state: stacked bars per minute.
  const peak = Math.max(1, ...slots.map((s) => total(STATES.map((k) => s.counts[k]))));
  const sums = {};
  for (const k of STATES) sums[k] = total(slots.map((s) => s.counts[k]));
  const states = frame(
    $("chart-states"),
    "Jobs per minute by state over the last hour: " + STATES.map((k) => sums[k] + " " + k).join(", "),
    peak
  );
  slots.forEach((slot, i) => {
    let base = 0;
    for (const k of STATES) {
      const v = slot.counts[k];
      if (!v) continue;
      svg("rect", {
        class: "bar " + k,
        x: states.x(i),
        y: states.y(base + v),
        width: states.barW,
        height: states.y(base) - states.y(base + v),
      }, states.root);
      base += v;
    }
  });
  legend("legend-states", STATES.map((k) => [k, k + " (" + sums[k] + ")"]));
  // Throughput: succeeded per minute.
  const most = Math.max(1, ...slots.map((s) => s.counts.succeeded));
  const throughput = frame(
    $("chart-throughput"),
    "Jobs succeeded per minute over the last hour: " + sums.succeeded + " in all, at most " + most + " in one minute",
    most
  );
  line(throughput, slots.map((s) => s.counts.succeeded), "throughput");
  // Run time: average and maximum.
  const longest = Math.max(0.001, ...slots.map((s) => s.max));
  const busy = slots.filter((s) => s.weight > 0);
  const mean = busy.length ? total(busy.map((s) => s.avg * s.weight)) / total(busy.map((s) => s.weight)) : 0;
  const runtime = frame(
    $("chart-runtime"),
    "Run time of succeeded jobs over the last hour: average " + mean.toFixed(2) + " s, longest " +
      (busy.length ? longest.toFixed(2) : "0") + " s",
    longest
  );
  line(runtime, slots.map((s) => s.avg), "avg");
  line(runtime, slots.map((s) => s.max), "max");
  legend("legend-runtime", [["avg", "average"], ["max", "maximum"]]);
}

function line(chart, values, kind) {
  const points = values.map((v, i) => `${chart.x(i) + chart.barW / 2},${chart.y(v)}`).join(" ");
  svg("polyline", { class: "line " + kind, points }, chart.root);
}

function legend(id, entries) {
  const list = $(id);
  if (list.dataset.labels === entries.map((e) => e[1]).join("|")) return;
  list.textContent = "";
  for (const [kind, label] of entries) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch " + kind;
    swatch.setAttribute("aria-hidden", "true");
    item.append(swatch, label);
    list.appendChild(item);
  }
  list.dataset.labels = entries.map((e) => e[1]).join("|");
}

const ACTIONS = {
  retry: (id) => ["/admin/api/jobs/" + id + "/retry", "Job " + shortId(id) + " is queued again."],
  cancel: (id) => ["/admin/api/jobs/" + id + "/cancel", "Job " + shortId(id) + " is cancelled."],
  requeue: (id) => ["/admin/api/dead-letters/" + id + "/requeue", "The dead letter's job is queued again."],
  discard: (id) => ["/admin/api/dead-letters/" + id + "/discard", "The dead letter is discarded."],
};

async function act(button) {
  const action = button.dataset.action;
  const [path, done] = ACTIONS[action](button.dataset.target);
  if (action === "discard" && !window.confirm("Discard this dead letter? Nothing is queued, and it cannot be undone.")) {
    return;
  }
  button.disabled = true;
  try {
    const { response, data } = await call("POST", path);
    if (response.status === 401) return showLogin("Your session has ended; log in again.");
    tell(response.ok ? done : "Refused: " + ((data && data.detail) || response.status));
    // The next snapshot drops the row too; a discard changes no job, so it may be a few seconds.
    if (response.ok && action === "discard") button.closest("tr").remove();
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", logOut);
  $("kind").addEventListener("change", () => latest && renderCharts(latest));
  $("main").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) act(button);
  });
  const { response, data } = await call("GET", "/admin/api/dashboard");
  if (response.ok) {
    render(data);
    follow();
  } else {
    showLogin(response.status === 401 ? "" : "The dashboard is unavailable (" + response.status + ").");
  }
});

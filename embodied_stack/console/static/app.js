"use strict";
// Console wiring: session, live WebSocket, e-stop, jog deadman, plan decisions, audit.

const state = { me: null, ws: null, plans: new Map(), currentPlan: null, violations: [],
  estop: null, safety: null, frames: 0, frameUrl: null };
const JOG_PERIOD_MS = 50;
let jog = null; // {axis, dir, timer}

async function api(method, path, body) {
  const headers = { "X-CSRF-Token": state.me ? state.me.csrf : "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) location.href = "/login";
  const data = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, data,
    message: data.message || (typeof data.detail === "string" ? data.detail : "") };
}

function show(id, result) {
  $(id).textContent = result.message || (result.ok ? "ok" : `refused (${result.status})`);
  $(id).className = `result ${result.ok ? "good" : "bad"}`;
}

// ---- live state -------------------------------------------------------------------------

function applySnapshot(s) {
  $("robot-id").textContent = s.robot_id;
  state.estop = s.estop; state.safety = s.safety;
  ui.estop(latched(), s.safety);
  ui.heartbeat(s.heartbeat_age_s);
  ui.motion(s.motion); ui.joints(s.joints); ui.tcp(s.tcp); ui.objects(s.objects);
  state.violations = s.violations; ui.violations(state.violations);
  for (const plan of s.plans) state.plans.set(plan.plan_id, plan);
  if (s.plans.length) showPlan(s.plans[s.plans.length - 1].plan_id);
}

function latched() {
  if (state.safety) return state.safety.latched || !!state.estop;
  return state.estop;
}

function showPlan(planId) {
  state.currentPlan = planId;
  ui.plan(state.plans.get(planId), state.me.may);
}

const handlers = {
  joints: (d) => ui.joints(d),
  tcp: (d) => ui.tcp(d),
  objects: (d) => ui.objects(d.objects),
  estop: (d) => { state.estop = d.estop; ui.estop(latched(), state.safety); },
  safety: (d) => { state.safety = d; ui.estop(latched(), d); },
  motion: (d) => ui.motion(d),
  plan: (d) => {
    const isNew = !state.plans.has(d.plan_id);
    state.plans.set(d.plan_id, d);
    if (isNew || d.plan_id === state.currentPlan) showPlan(d.plan_id);
  },
  violation: (d) => { state.violations.push(d); ui.violations(state.violations); },
  audit: (d) => { if (!$("view-audit").hidden) loadAudit(); },
  audit_head: () => {},
};

function onMessage(event) {
  if (typeof event.data !== "string") return showFrame(event.data);
  const m = JSON.parse(event.data);
  if (m.type === "snapshot") applySnapshot(m.data);
  else if (m.type === "update" && handlers[m.kind]) handlers[m.kind](m.data);
  else if (m.type === "tick") ui.heartbeat(m.heartbeat_age_s);
  else if (m.type === "ack" && m.of === "jog" && !m.ok) show("jog-result", m);
  else if (m.type === "error") show("jog-result", { ok: false, message: m.error });
}

function showFrame(blob) {
  const url = URL.createObjectURL(blob);
  const img = $("camera");
  img.onload = () => URL.revokeObjectURL(url);
  img.src = url;
  state.frames += 1;
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws`);
  ws.binaryType = "blob";
  ws.onopen = () => { $("connection").hidden = true; };
  ws.onmessage = onMessage;
  ws.onclose = (event) => {
    stopJog();
    state.ws = null;
    if (event.code === 4401 || event.code === 4403) { location.href = "/login"; return; }
    $("connection").textContent = "connection lost: reconnecting...";
    $("connection").hidden = false;
    setTimeout(connect, 1000);
  };
  state.ws = ws;
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(message));
    return true;
  }
  return false;
}

// ---- e-stop, reset ------------------------------------------------------------------------

async function estop() {
  stopJog();
  if (!send({ type: "estop" })) show("reset-result", await api("POST", "/api/estop", { why: "console e-stop button" }));
}

async function reset(event) {
  event.preventDefault();
  const password = $("reset-password").value;
  $("reset-password").value = "";
  show("reset-result", await api("POST", "/api/reset", { password }));
}

// ---- jog: stream while held; stop on release, blur, hidden tab, lost socket -----------------

function startJog(axis, dir) {
  if (!state.me.may.jog) return;
  if (jog && jog.axis === axis && jog.dir === dir) return;
  stopJog();
  const tick = () => send({ type: "jog", axis, direction: dir });
  tick();
  jog = { axis, dir, timer: setInterval(tick, JOG_PERIOD_MS) };
}

function stopJog() {
  if (!jog) return;
  clearInterval(jog.timer);
  jog = null;
  send({ type: "jog_stop" });
}

const JOG_KEYS = { w: ["x", 1], s: ["x", -1], a: ["y", 1], d: ["y", -1], r: ["z", 1], f: ["z", -1],
  o: ["gripper", 1], c: ["gripper", -1] };

function typing(event) {
  return ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName);
}

function bindKeys() {
  document.addEventListener("keydown", (event) => {
    if (event.code === "Space" && !typing(event)) { event.preventDefault(); estop(); return; }
    const jogKey = !typing(event) && JOG_KEYS[event.key.toLowerCase()];
    if (jogKey) { event.preventDefault(); startJog(...jogKey); }
  });
  document.addEventListener("keyup", (event) => {
    if (JOG_KEYS[event.key.toLowerCase()]) stopJog();
  });
  window.addEventListener("blur", stopJog);
  document.addEventListener("visibilitychange", () => { if (document.hidden) stopJog(); });
}

function bindJogPad() {
  for (const button of document.querySelectorAll("#jog-pad button")) {
    button.disabled = !state.me.may.jog;
    button.addEventListener("pointerdown", (event) => {
      button.setPointerCapture(event.pointerId);
      startJog(button.dataset.axis, Number(button.dataset.dir));
    });
    for (const end of ["pointerup", "pointercancel", "lostpointercapture", "pointerleave"]) {
      button.addEventListener(end, stopJog);
    }
  }
}

// ---- instruction and plan decisions -------------------------------------------------------

function bindPlanning() {
  $("instruction-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("instruction").value.trim();
    if (text) show("instruction-result", await api("POST", "/api/instruction", { text }));
  });
  const decide = async (approved) => {
    const planId = $("plan").dataset.planId;
    const path = `/api/plans/${encodeURIComponent(planId)}/decision`;
    show("plan-result", await api("POST", path, { approved, reason: approved ? null : "rejected in console" }));
  };
  $("plan-approve").addEventListener("click", () => decide(true));
  $("plan-reject").addEventListener("click", () => decide(false));
  $("instruction-send").disabled = !state.me.may.instruct;
}

// ---- audit and incidents ------------------------------------------------------------------

async function loadAudit() {
  const params = new URLSearchParams({ limit: "200" });
  for (const [key, id] of [["kind", "audit-kind"], ["actor", "audit-actor"], ["text", "audit-text"]]) {
    if ($(id).value) params.set(key, $(id).value);
  }
  const result = await api("GET", `/api/audit?${params}`);
  if (result.ok) ui.auditRows(result.data.events.slice().reverse());
}

async function verifyChain() {
  const result = await api("GET", "/api/audit/verify");
  if (result.ok) ui.chain(result.data);
}

async function loadIncidents() {
  const result = await api("GET", "/api/incidents");
  if (result.ok) ui.incidents(result.data.incidents);
}

function bindViews() {
  const kinds = ["instruction", "plan", "refusal", "approval", "rejection", "dry_run", "motion_start",
    "motion_end", "trip", "reset", "violation", "jog", "login", "restart", "gap", "incident"];
  for (const kind of kinds) $("audit-kind").append(el("option", kind));
  $("audit-filter").addEventListener("submit", (event) => { event.preventDefault(); loadAudit(); });
  $("audit-verify").addEventListener("click", verifyChain);
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
      for (const view of ["live", "audit", "incidents"]) $(`view-${view}`).hidden = view !== tab.dataset.view;
      if (tab.dataset.view === "audit") { loadAudit(); verifyChain(); }
      if (tab.dataset.view === "incidents") loadIncidents();
    });
  }
}

// ---- start --------------------------------------------------------------------------------

(async function main() {
  const me = await api("GET", "/api/me");
  if (!me.ok) return;
  state.me = me.data;
  $("who").textContent = `${state.me.operator} (${state.me.role})`;
  $("reset-form").hidden = !state.me.may.reset;
  $("estop-button").addEventListener("pointerdown", estop);
  $("reset-form").addEventListener("submit", reset);
  $("logout").addEventListener("click", async () => { await api("POST", "/api/logout"); location.href = "/login"; });
  bindKeys(); bindJogPad(); bindPlanning(); bindViews();
  setInterval(() => { $("camera-fps").textContent = `${state.frames} fps`; state.frames = 0; }, 1000);
  connect();
})();

"use strict";
// Rendering: pure functions of the state the server sends. No framework, no innerHTML
// with server text (everything goes through textContent).

const $ = (id) => document.getElementById(id);
const fmt = (x, digits = 3) => (typeof x === "number" ? x.toFixed(digits) : "-");
const vec = (v) => (v ? `(${v.map((x) => fmt(x)).join(", ")})` : "-");

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function fill(list, items, render) {
  list.replaceChildren(...items.map(render));
}

const RISK = ["LOW", "MEDIUM", "HIGH", "FORBIDDEN"];

const ui = {
  estop(latched, safety) {
    const box = $("estop-state");
    const state = latched === null || latched === undefined ? "unknown" : latched ? "on" : "off";
    box.className = `estop-state ${state}`;
    box.textContent = { unknown: "E-STOP: ?", on: "E-STOP ACTIVE", off: "E-stop clear" }[state];
    $("safety-latched").textContent = { unknown: "unknown", on: "ACTIVE (holding)", off: "clear" }[state];
    if (safety) {
      $("safety-source").textContent = safety.tripped_by || "-";
      $("safety-reason").textContent = safety.reason || "-";
      const inputs = Object.entries(safety.inputs || {});
      $("reset-hint").textContent = safety.latched && !safety.reset_allowed
        ? "reset not possible yet: every input must be released first" : "";
      $("safety-inputs").textContent = inputs.length
        ? inputs.map(([name, pressed]) => `${name}: ${pressed ? "PRESSED" : "released"}`).join(", ")
        : "-";
    }
  },

  heartbeat(age) {
    const dd = $("heartbeat-age");
    dd.textContent = age === null || age === undefined ? "none received" : `${(age * 1000).toFixed(0)} ms`;
    dd.className = age === null || age === undefined || age > 0.1 ? "bad" : "good";
  },

  motion(status) {
    if (!status) return;
    $("motion-state").textContent = status.state;
    $("motion-state").className = `motion-${status.state}`;
    const step = status.step_index === null ? "-" : `${status.step_index + 1} of ${status.step_count}`;
    $("motion-step").textContent = status.skill ? `${step}: ${status.skill}` : step;
    $("motion-plan").textContent = status.plan_id || "-";
    $("motion-error").textContent = status.error || "-";
  },

  joints(joints) {
    if (!joints) return;
    const rows = joints.names.map((name, i) => {
      const row = el("tr");
      row.append(el("td", name), el("td", fmt(joints.positions[i])));
      return row;
    });
    $("joints").replaceChildren(...rows);
  },

  tcp(tcp) {
    if (!tcp) return;
    const grip = tcp.gripper_opening === null ? "" : `, gripper ${fmt(tcp.gripper_opening)} m`;
    $("tcp").textContent = `TCP: ${vec(tcp.position)} m${grip}`;
  },

  objects(objects) {
    fill($("objects"), objects || [], (o) =>
      el("li", `${o.id}: ${o.color ? o.color + " " : ""}${o.kind} at ${vec(o.position)}` +
        `${o.stale ? " (stale)" : ""}`));
  },

  violations(violations) {
    fill($("violations"), violations.slice(-20).reverse(), (v) =>
      el("li", `${v.rule} at ${v.where}: ${fmt(v.value)} (limit ${fmt(v.limit)}) [${v.source}]`));
  },

  plan(plan, may) {
    $("plan-empty").hidden = !!plan;
    $("plan").hidden = !plan;
    if (!plan) return;
    $("plan").dataset.planId = plan.plan_id;
    $("plan-status").textContent = plan.status;
    $("plan-status").className = `status plan-${plan.status}`;
    $("plan-ai").textContent = plan.ai_generated ? "AI-generated" : "Operator plan";
    $("plan-ai").className = plan.ai_generated ? "ai-label" : "human-label";
    $("plan-risk").textContent = `risk ${RISK[plan.risk_tier] || plan.risk_tier}`;
    $("plan-risk").className = `risk risk-${plan.risk_tier}`;
    $("plan-risk-reasons").textContent = plan.risk_reasons.length ? `why: ${plan.risk_reasons.join("; ")}` : "";
    $("plan-instruction").textContent = plan.instruction ? `“${plan.instruction}”` : "";
    const p = plan.provenance;
    $("plan-provenance").textContent =
      `provenance: ${p.planner} planner, model ${p.model}` + (p.endpoint ? ` at ${p.endpoint}` : "") +
      (p.prompt_sha256 ? `, prompt ${p.prompt_sha256.slice(0, 12)}` : "") + `, plan ${plan.plan_id}`;
    fill($("plan-steps"), plan.steps, (s) => {
      const args = Object.entries(s.args).map(([k, v]) => `${k}=${v}`).join(", ");
      return el("li", `${s.skill}(${args})`);
    });
    $("plan-rationale").textContent = plan.rationale ? `rationale: ${plan.rationale}` : "";
    const dry = plan.dry_run;
    $("plan-dry-run").textContent = dry
      ? `dry run: ${dry.ok ? "passed" : "FAILED"} (${fmt(dry.sim_s, 2)} s simulated)` + (dry.error ? ` ${dry.error}` : "")
      : "dry run: not run";
    $("plan-dry-run").className = dry ? (dry.ok ? "good" : "bad") : "";
    const findings = [...plan.findings, ...(dry ? dry.violations : [])];
    fill($("plan-findings"), findings, (v) => el("li", `red line ${v.rule} at ${v.where}: ${fmt(v.value)} (limit ${fmt(v.limit)})`));
    $("plan-reason").textContent = plan.reason ? `reason: ${plan.reason}` : "";
    const waiting = plan.status === "proposed";
    $("plan-approve").disabled = !waiting || !may.approve;
    $("plan-reject").disabled = !waiting || !may.approve;
  },

  auditRows(events) {
    fill($("audit-events"), events, (record) => {
      const e = record;
      const row = el("tr");
      const stamp = e.time || e.stamp;
      const when = stamp ? new Date(stamp * 1000).toLocaleTimeString() : "";
      row.append(el("td", record.seq === undefined ? "" : String(record.seq)), el("td", when),
        el("td", e.kind), el("td", e.actor), el("td", e.source || ""),
        el("td", e.ai_generated ? "AI" : ""), el("td", JSON.stringify(e.payload || {}).slice(0, 160)));
      return row;
    });
  },

  chain(status) {
    const box = $("chain-status");
    box.textContent = status.ok
      ? `chain verified: ${status.length} events`
      : `chain BROKEN at ${status.broken_at}: ${status.message}`;
    box.className = `status ${status.ok ? "good" : "bad"}`;
  },

  incidents(list) {
    fill($("incidents"), list, (i) => {
      const row = el("tr");
      row.append(el("td", new Date(i.stamp * 1000).toLocaleString()), el("td", i.kind),
        el("td", i.reason), el("td", i.plan_id || ""), el("td", `${i.violations} violation(s)`),
        el("td", i.incident_id));
      return row;
    });
  },
};

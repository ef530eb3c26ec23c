"use strict";
(function () {
  const CHUNK = 500;
  const POLL_MS = 250;
  const POLL_LIMIT = 2000000;
  const data = JSON.parse(document.getElementById("serve-data").textContent);
  const byId = (id) => document.getElementById(id);
  const message = byId("message");
  let plan = null;
  let runsTree = null;
  let planShown = 0;
  const hiddenKinds = new Set();

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function say(text, isError) {
    message.textContent = text;
    message.className = isError ? "error" : "";
  }

  function humanBytes(count) {
    let value = count || 0;
    for (const unit of ["B", "KiB", "MiB", "GiB"]) {
      if (Math.abs(value) < 1024) return unit === "B" ? value + " B" : value.toFixed(1) + " " + unit;
      value /= 1024;
    }
    return value.toFixed(1) + " TiB";
  }

  async function answer(response) {
    let value = null;
    try {
      value = await response.json();
    } catch (error) {
      throw new Error(response.status + " " + response.statusText);
    }
    if (!response.ok) throw new Error(value.error || response.statusText);
    return value;
  }

  async function post(route, body) {
    const response = await fetch(route, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Dirkit-CSRF": data.csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    return answer(response);
  }

  async function get(route, params) {
    const query = params ? "?" + new URLSearchParams(params).toString() : "";
    return answer(await fetch(route + query, { credentials: "same-origin" }));
  }

  function sleep(ms) {
    return new Promise((done) => setTimeout(done, ms));
  }

  async function follow(job, onProgress) {
    for (let polls = 0; job.state === "running" && polls < POLL_LIMIT; polls++) {
      if (onProgress) onProgress(job.progress);
      await sleep(POLL_MS);
      job = await get("/api/jobs/" + encodeURIComponent(job.id));
    }
    if (onProgress) onProgress(job.progress);
    if (job.state === "failed") throw new Error(job.error);
    return job.result;
  }

  function trees() {
    return { left: byId("left").value.trim(), right: byId("right").value.trim() };
  }

  async function guarded(label, work) {
    say(label + "\u2026");
    try {
      await work();
    } catch (error) {
      say(error.message, true);
    }
  }

  function compare() {
    return guarded("comparing", async () => {
      const result = await follow(await post("/api/compare", trees()));
      const view = byId("compare-view");
      view.hidden = false;
      byId("compare-summary").textContent = result.summary;
      const frame = byId("report");
      frame.onload = () => document.body.setAttribute("data-compare", result.report);
      frame.src = "/report/" + encodeURIComponent(result.report);
      say("compared: " + result.summary);
    });
  }

  function actionRow(action, number) {
    const row = el("tr", "action");
    row.setAttribute("data-kind", action.kind);
    row.setAttribute("data-path", action.path);
    row.appendChild(el("td", "number", number + 1));
    if (action.side) row.setAttribute("data-side", action.side);
    row.appendChild(el("td", "where", action.direction || "\u2192 right"));
    const kind = el("td");
    kind.appendChild(el("span", "kind k-" + action.kind, action.kind.replace("_", " ")));
    row.appendChild(kind);
    row.appendChild(el("td", "what", action.text + (action.optional ? "  (if still there)" : "")));
    return row;
  }

  async function showActions(reset) {
    const body = byId("plan-actions").tBodies[0];
    if (reset) planShown = 0;
    const page = await get("/api/plan-steps", {
      plan: plan.plan_id,
      offset: planShown,
      limit: CHUNK,
      hide: Array.from(hiddenKinds).join(","),
    });
    if (reset) body.textContent = "";
    const part = document.createDocumentFragment();
    for (const step of page.steps) part.appendChild(actionRow(step, step.index));
    body.appendChild(part);
    planShown = page.next === null ? plan.totals.actions : page.next;
    const more = byId("more-actions");
    more.hidden = page.remaining === 0;
    more.textContent = "show more (" + page.remaining + " steps not shown yet)";
  }

  async function showPlan(result) {
    plan = result;
    hiddenKinds.clear();
    byId("plan-view").hidden = false;
    byId("plan-source").textContent = result.source;
    byId("plan-target").textContent = result.target;
    byId("plan-summary").textContent = result.summary;
    const isSync = result.operation === "sync";
    byId("plan-operation").textContent = isSync ? "sync A =" : "mirror";
    byId("plan-arrow").textContent = isSync ? "\u21c4 B =" : "\u2192";
    const conflicts = byId("plan-conflicts");
    const conflictRows = conflicts.tBodies[0];
    conflictRows.textContent = "";
    conflicts.hidden = !isSync || result.conflicts.length === 0;
    for (const item of isSync ? result.conflicts : []) {
      const row = el("tr", "conflict");
      row.setAttribute("data-path", item.path);
      row.setAttribute("data-resolution", item.resolution);
      row.appendChild(el("td", "path", item.path));
      row.appendChild(el("td", "", item.a));
      row.appendChild(el("td", "", item.b));
      const kept = item.kept_as ? " (the other version kept as " + item.kept_as + ")" : "";
      row.appendChild(el("td", "", item.reason + ": " + item.resolution + kept));
      conflictRows.appendChild(row);
    }
    if (isSync && result.conflict_count > result.conflicts.length) {
      conflictRows.appendChild(el("tr", "note", "and " + (result.conflict_count - result.conflicts.length) + " more conflicts"));
    }
    const violations = byId("plan-violations");
    violations.textContent = "";
    for (const text of result.violations) violations.appendChild(el("li", "", "a run would refuse: " + text));
    const filters = byId("plan-filters");
    filters.textContent = "";
    for (const [kind, count] of Object.entries(result.kinds)) {
      const label = el("label", "k-" + kind);
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = true;
      box.value = kind;
      box.addEventListener("change", () => {
        if (box.checked) hiddenKinds.delete(kind);
        else hiddenKinds.add(kind);
        guarded("listing steps", () => showActions(true).then(() => say("")));
      });
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + kind.replace("_", " ") + " (" + count + ")"));
      filters.appendChild(label);
    }
    const skipped = byId("plan-skipped");
    skipped.textContent = "";
    for (const item of result.skipped) skipped.appendChild(el("li", "", "left alone: " + item.path + ": " + item.reason));
    if (result.skipped_count > result.skipped.length) {
      skipped.appendChild(el("li", "", "and " + (result.skipped_count - result.skipped.length) + " more left alone"));
    }
    byId("apply").disabled = result.totals.actions === 0;
    await showActions(true);
    document.body.setAttribute("data-plan", result.plan_id);
  }

  function makePlan() {
    return guarded("planning", async () => {
      const body = trees();
      body.delete = !byId("no-delete").checked;
      const result = await follow(await post("/api/plan", body));
      await showPlan(result);
      say(result.summary);
    });
  }

  function makeSyncPlan() {
    return guarded("planning the sync", async () => {
      const body = trees();
      body.prefer = byId("prefer").value;
      body.keep_both = byId("keep-both").checked;
      const result = await follow(await post("/api/sync-plan", body));
      await showPlan(result);
      say(result.summary);
    });
  }

  function showProgress(progress) {
    const bar = byId("progress");
    bar.value = progress.percent;
    byId("progress-text").textContent =
      progress.percent + "% (" + progress.done + "/" + progress.total + " steps, " +
      humanBytes(progress.bytes_done) + " of " + humanBytes(progress.bytes_total) + ")";
  }

  async function runJob(title, route, body) {
    byId("run-view").hidden = false;
    byId("run-title").textContent = title;
    byId("run-summary").textContent = "";
    byId("run-failures").textContent = "";
    document.body.removeAttribute("data-run");
    showProgress({ percent: 0, done: 0, total: 0, bytes_done: 0, bytes_total: 0 });
    try {
      const result = await follow(await post(route, body), showProgress);
      const text = result.run_id
        ? result.operation + " run " + result.run_id + ": " + result.steps_done + " steps done, " +
          result.files_copied + " files copied (" + humanBytes(result.bytes_copied) + ")"
        : "nothing to do";
      const left = result.conflicts_left ? "; " + result.conflicts_left + " conflicts left alone on both sides" : "";
      byId("run-summary").textContent = text + left;
      const failures = byId("run-failures");
      for (const item of result.failed) {
        failures.appendChild(el("li", "", (item.conflict ? "conflict: " : "failed: ") + item.reason));
      }
      say(text + left + (result.failed.length ? "; " + result.failed.length + " failed or left alone" : ""));
      document.body.setAttribute("data-run", result.failed.length ? "failed" : "done");
    } catch (error) {
      byId("run-summary").textContent = error.message;
      document.body.setAttribute("data-run", "refused");
      throw error;
    }
    if (!byId("runs-view").hidden) await showRuns();
  }

  function apply() {
    if (plan === null) return Promise.resolve();
    return guarded("applying", () =>
      plan.operation === "sync"
        ? runJob("Applying the sync", "/api/sync-apply", { plan: plan.plan_id, force: byId("force").checked })
        : runJob("Applying the plan", "/api/apply", { plan: plan.plan_id, force: byId("force").checked })
    );
  }

  function undo(run) {
    return guarded("undoing run " + run, () =>
      runJob("Undoing run " + run, "/api/undo", { tree: runsTree, run: run })
    );
  }

  function restore(run, path) {
    return guarded("restoring " + path, () =>
      runJob("Restoring " + path, "/api/restore", { tree: runsTree, run: run, path: path })
    );
  }

  function button(text, className, onClick) {
    const node = el("button", className, text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  async function showBackups(run) {
    const result = await get("/api/backup-files", { tree: runsTree, run: run });
    byId("backup-box").hidden = false;
    byId("backup-run").textContent = run + " (" + result.operation + ")";
    const body = byId("backup-files").tBodies[0];
    body.textContent = "";
    for (const file of result.files) {
      const row = el("tr", "backup-file");
      row.setAttribute("data-path", file.path);
      row.appendChild(el("td", "path", file.path + (file.kind === "file" ? "" : " (" + file.kind + ")")));
      row.appendChild(el("td", "size", humanBytes(file.size)));
      const cell = el("td");
      if (file.kind === "file") cell.appendChild(button("Restore", "restore", () => restore(run, file.path)));
      row.appendChild(cell);
      body.appendChild(row);
    }
    byId("backup-note").textContent = result.files.length
      ? result.truncated ? "only the first " + result.files.length + " files are listed" : ""
      : "this run backed up nothing";
  }

  async function showRuns(tree) {
    if (tree !== undefined) runsTree = tree;
    if (runsTree === null) runsTree = trees().right;
    const result = await get("/api/runs", { tree: runsTree });
    byId("runs-view").hidden = false;
    byId("runs-tree").textContent = result.tree;
    const body = byId("runs").tBodies[0];
    body.textContent = "";
    for (const run of result.runs) {
      const row = el("tr", "run");
      row.setAttribute("data-run", run.run_id);
      row.appendChild(el("td", "path", run.run_id));
      row.appendChild(el("td", "", run.operation || ""));
      row.appendChild(el("td", "", run.status || ""));
      row.appendChild(el("td", "", run.started_at || ""));
      row.appendChild(el("td", "", run.has_backups ? run.files + " files, " + humanBytes(run.bytes) : "none"));
      const cell = el("td");
      if (run.status && run.status !== "running") cell.appendChild(button("Undo", "undo", () => undo(run.run_id)));
      if (run.has_backups) {
        cell.appendChild(button("Backups", "backups", () => guarded("listing", () => showBackups(run.run_id).then(() => say("")))));
      }
      row.appendChild(cell);
      body.appendChild(row);
    }
    if (result.runs.length === 0) body.appendChild(el("tr", "note", "no dirkit runs on this tree yet"));
  }

  byId("left").value = data.trees[0] || "";
  byId("right").value = data.trees[1] || "";
  byId("compare").addEventListener("click", compare);
  byId("plan").addEventListener("click", makePlan);
  byId("apply").addEventListener("click", apply);
  byId("more-actions").addEventListener("click", () => guarded("listing steps", () => showActions(false).then(() => say(""))));
  byId("show-runs").addEventListener("click", () => guarded("listing runs", () => showRuns(trees().right).then(() => say(""))));
  byId("show-left-runs").addEventListener("click", () => guarded("listing runs", () => showRuns(trees().left).then(() => say(""))));
  byId("sync-plan").addEventListener("click", makeSyncPlan);
  document.body.setAttribute("data-ready", "1");
})();

"use strict";
(function () {
  const CHUNK = 500;
  const SEARCH_LIMIT = 500;
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const statuses = data.statuses;
  const rows = data.rows;
  const shown = statuses.map(() => true);
  const treeBox = document.getElementById("tree");
  const details = document.getElementById("details");
  const search = document.getElementById("search");
  let picked = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function Folder(name, path) {
    this.name = name;
    this.path = path;
    this.folders = new Map();
    this.files = [];
    this.counts = new Int32Array(statuses.length);
    this.row = -1;
    this.open = false;
    this.sorted = null;
  }

  const root = new Folder("", "");
  root.open = true;
  const totals = new Int32Array(statuses.length);
  for (let i = 0; i < rows.length; i++) {
    const status = rows[i][1];
    const parts = rows[i][0].split("/");
    let node = root;
    totals[status]++;
    for (let k = 0; k < parts.length - 1; k++) {
      let next = node.folders.get(parts[k]);
      if (next === undefined) {
        next = new Folder(parts[k], node.path ? node.path + "/" + parts[k] : parts[k]);
        node.folders.set(parts[k], next);
      }
      next.counts[status]++;
      node = next;
    }
    node.files.push(i);
  }

  function baseName(path) {
    const cut = path.lastIndexOf("/");
    return cut < 0 ? path : path.slice(cut + 1);
  }

  function children(node) {
    if (node.sorted === null) {
      const files = [];
      for (const i of node.files) {
        const folder = node.folders.get(baseName(rows[i][0]));
        if (folder !== undefined) folder.row = i;
        else files.push(i);
      }
      node.files = files;
      node.sorted = Array.from(node.folders.keys()).sort().map((name) => node.folders.get(name));
    }
    return node.sorted;
  }

  function visible(folder) {
    if (folder.row >= 0 && shown[rows[folder.row][1]]) return true;
    for (let s = 0; s < statuses.length; s++) if (shown[s] && folder.counts[s] > 0) return true;
    return false;
  }

  function humanBytes(count) {
    if (count === null || count === undefined) return "";
    let value = count;
    for (const unit of ["B", "KiB", "MiB", "GiB"]) {
      if (Math.abs(value) < 1024) return unit === "B" ? value + " B" : value.toFixed(1) + " " + unit;
      value /= 1024;
    }
    return value.toFixed(1) + " TiB";
  }

  function humanTime(seconds) {
    if (seconds === null || seconds === undefined) return "";
    return new Date(seconds * 1000).toISOString().replace("T", " ").replace(".000Z", "Z");
  }

  function bothSides(left, right, show) {
    if (left === null && right === null) return "";
    if (left === null) return show(right);
    if (right === null || left === right) return show(left);
    return show(left) + " \u2192 " + show(right);
  }

  function statusBadge(status) {
    const style = statuses[status];
    const badge = el("span", "status c-" + style[2], style[0]);
    badge.title = style[1];
    return badge;
  }

  function fileRow(i, depth, label) {
    const row = rows[i];
    const line = el("div", "row file-row");
    line.style.paddingLeft = 4 + depth * 16 + "px";
    line.setAttribute("data-path", row[0]);
    line.appendChild(el("span", "toggle", ""));
    line.appendChild(statusBadge(row[1]));
    line.appendChild(el("span", "name", label === "" ? "." : label));
    line.appendChild(el("span", "size", bothSides(row[2], row[3], humanBytes)));
    if (row[7] >= 0) line.appendChild(el("span", "badge b-blue", "diff"));
    line.addEventListener("click", () => pick(i, line));
    return line;
  }

  function folderRow(folder, depth) {
    const wrap = el("div", "folder");
    const line = el("div", "row folder-row");
    line.style.paddingLeft = 4 + depth * 16 + "px";
    line.setAttribute("data-path", folder.path);
    const toggle = el("span", "toggle", folder.open ? "\u25be" : "\u25b8");
    line.appendChild(toggle);
    line.appendChild(folder.row >= 0 ? statusBadge(rows[folder.row][1]) : el("span", "status", ""));
    line.appendChild(el("span", "name", folder.name + "/"));
    const counts = el("span", "counts");
    for (let s = 0; s < statuses.length; s++) {
      if (!shown[s] || folder.counts[s] === 0) continue;
      const badge = el("span", "badge b-" + statuses[s][2], folder.counts[s]);
      badge.title = folder.counts[s] + " " + statuses[s][1];
      counts.appendChild(badge);
    }
    line.appendChild(counts);
    const box = el("div", "children");
    box.hidden = !folder.open;
    if (folder.open) fill(folder, box, depth + 1);
    line.addEventListener("click", () => {
      folder.open = !folder.open;
      toggle.textContent = folder.open ? "\u25be" : "\u25b8";
      box.hidden = !folder.open;
      if (folder.open && !box.firstChild) fill(folder, box, depth + 1);
      if (folder.row >= 0) pick(folder.row, line);
    });
    wrap.appendChild(line);
    wrap.appendChild(box);
    return wrap;
  }

  function fill(folder, box, depth) {
    box.textContent = "";
    const items = [];
    for (const child of children(folder)) if (visible(child)) items.push(child);
    for (const i of folder.files) if (shown[rows[i][1]]) items.push(i);
    let done = 0;
    function more() {
      const end = Math.min(items.length, done + CHUNK);
      const part = document.createDocumentFragment();
      for (; done < end; done++) {
        const item = items[done];
        part.appendChild(
          typeof item === "number" ? fileRow(item, depth, baseName(rows[item][0])) : folderRow(item, depth)
        );
      }
      box.appendChild(part);
      if (done < items.length) {
        const link = el("div", "more", "show " + Math.min(CHUNK, items.length - done) + " more of " + (items.length - done));
        link.style.paddingLeft = 4 + depth * 16 + "px";
        link.addEventListener("click", () => {
          link.remove();
          more();
        });
        box.appendChild(link);
      }
    }
    more();
    if (items.length === 0) box.appendChild(el("div", "note", "nothing to show"));
  }

  function pick(i, line) {
    if (picked !== null) picked.classList.remove("picked");
    picked = line;
    line.classList.add("picked");
    const row = rows[i];
    details.hidden = false;
    details.textContent = "";
    details.appendChild(el("h2", "path", row[0] === "" ? "." : row[0]));
    const facts = el("table", "facts");
    function fact(name, value) {
      if (value === "" || value === null || value === undefined) return;
      const tr = el("tr");
      tr.appendChild(el("td", "", name));
      tr.appendChild(el("td", "", value));
      facts.appendChild(tr);
    }
    fact("status", statuses[row[1]][1]);
    const sides = data.right ? [" (left)", " (right)"] : ["", ""];
    fact("size" + sides[0], humanBytes(row[2]));
    fact("size" + sides[1], humanBytes(row[3]));
    fact("modified" + sides[0], humanTime(row[4]));
    fact("modified" + sides[1], humanTime(row[5]));
    fact("note", row[6]);
    details.appendChild(facts);
    if (row[7] >= 0) {
      const diff = data.diffs[row[7]];
      if (diff.lines.length > 0) {
        const pre = el("pre", "diff");
        for (const text of diff.lines) {
          let kind = "";
          if (text.startsWith("+++") || text.startsWith("---")) kind = "file";
          else if (text.startsWith("+")) kind = "add";
          else if (text.startsWith("-")) kind = "del";
          else if (text.startsWith("@@")) kind = "hunk";
          pre.appendChild(el("span", kind, text));
        }
        details.appendChild(pre);
      }
      if (diff.note) details.appendChild(el("p", "note diff-note", diff.note));
    }
  }

  function drawTree() {
    treeBox.textContent = "";
    const query = search.value.trim().toLowerCase();
    if (query === "") {
      const box = el("div", "children");
      fill(root, box, 0);
      treeBox.appendChild(box);
      return;
    }
    const found = [];
    let matches = 0;
    for (let i = 0; i < rows.length; i++) {
      if (!shown[rows[i][1]] || rows[i][0].toLowerCase().indexOf(query) < 0) continue;
      matches++;
      if (found.length < SEARCH_LIMIT) found.push(i);
    }
    treeBox.appendChild(el("div", "note search-count", matches + (matches === 1 ? " path matches" : " paths match")));
    const part = document.createDocumentFragment();
    for (const i of found) part.appendChild(fileRow(i, 0, rows[i][0]));
    treeBox.appendChild(part);
    if (matches > found.length) treeBox.appendChild(el("div", "note", "and " + (matches - found.length) + " more; narrow the search"));
  }

  function setAll(folder, open) {
    for (const child of children(folder)) {
      child.open = open;
      setAll(child, open);
    }
  }

  document.getElementById("sides").textContent = data.right
    ? "left: " + data.left + " \u00b7 right: " + data.right
    : data.left;
  const tally = [];
  const filters = document.getElementById("filters");
  for (let s = 0; s < statuses.length; s++) {
    if (totals[s] === 0) continue;
    tally.push(totals[s] + " " + statuses[s][0]);
    const label = el("label", "c-" + statuses[s][2]);
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.value = statuses[s][0];
    box.addEventListener("change", () => {
      shown[s] = box.checked;
      drawTree();
    });
    label.appendChild(box);
    label.appendChild(document.createTextNode(" " + statuses[s][0] + " (" + totals[s] + ")"));
    label.title = statuses[s][1];
    filters.appendChild(label);
  }
  document.getElementById("summary").textContent =
    data.summary || (rows.length ? tally.join(", ") : "nothing to show");
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(drawTree, 120);
  });
  document.getElementById("expand-all").addEventListener("click", () => {
    setAll(root, true);
    drawTree();
  });
  document.getElementById("collapse-all").addEventListener("click", () => {
    setAll(root, false);
    drawTree();
  });
  drawTree();
  document.body.setAttribute("data-ready", "1");
})();

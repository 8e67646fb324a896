/* psinfor mapping designer: field-to-field diagram, drag-and-drop edits, live check and preview.
 *
 * The browser keeps only a list of edit operations; the server replays them on the saved file, checks the
 * result with the mapping loader, and answers with the redrawn field maps, the problems, the diff and the
 * preview. Plain JS, no build step.
 */
(function () {
  "use strict";
  const dataNode = document.getElementById("designer-data");
  if (!dataNode) return;
  const D = JSON.parse(dataNode.textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";

  const state = {
    ops: [], text: null, maps: D.maps, current: D.maps.length ? D.maps[0].key : null, baseHash: D.base_hash,
    selected: null, seq: 0, lastDiff: "", problems: [], dragging: null,
    suggestions: {},  // field map key -> {M3 field: [candidates]} from the suggester (psinfor map suggest)
  };

  function currentMap() { return state.maps.find((m) => m.key === state.current) || null; }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v);
      else if (k === "text") node.textContent = v; else node[k] = v;
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }
  function summary(spec) {
    const parts = [];
    if (spec.format && spec.format !== "text") parts.push(spec.format);
    if (spec.lookup) parts.push("lookup " + spec.lookup);
    if (spec.truncate) parts.push("truncate");
    if (spec.default != null) parts.push("default " + spec.default);
    if (spec.only_if) parts.push("if " + spec.only_if);
    if (spec.omit_zero) parts.push("omit 0");
    return parts.join(" · ");
  }

  // -- drawing -------------------------------------------------------------------------------------------
  function draw() {
    const map = currentMap();
    if (!map) return;
    document.querySelectorAll("#map-tabs a").forEach((a) => a.classList.toggle("on", a.dataset.map === map.key));
    $("target-title").textContent = map.program + "/" + map.transaction;
    const used = new Set(Object.values(map.specs).map((s) => s.from).filter(Boolean));
    const sFilter = $("source-filter").value.trim().toLowerCase();
    const allSources = $("show-all-sources").checked;
    const sources = $("sources");
    sources.replaceChildren();
    for (const path of map.sources) {
      const hit = sFilter && path.toLowerCase().includes(sFilter);
      if (!(used.has(path) || hit || (allSources && !sFilter))) continue;
      sources.append(el("li", {"class": "src" + (used.has(path) ? " used" : ""), "data-path": path, title: path},
        el("span", {"class": "label", text: path}), el("span", {"class": "dot"})));
    }
    const free = Object.entries(map.specs).filter(([, s]) => s.from && !map.sources.includes(s.from));
    for (const [, s] of free) {  // a path the loader refuses: still drawn, so it can be fixed
      sources.append(el("li", {"class": "src used unknown", "data-path": s.from, title: "not a known path"},
        el("span", {"class": "label", text: s.from + " ?"}), el("span", {"class": "dot"})));
    }
    const tFilter = $("target-filter").value.trim().toLowerCase();
    const allTargets = $("show-all-targets").checked;
    const targets = $("targets");
    targets.replaceChildren();
    const known = new Set(map.targets.map((t) => t.name));
    const rows = map.targets.concat(Object.keys(map.specs).filter((f) => !known.has(f))
      .map((f) => ({name: f, length: null, required: false, description: "(not an input of this transaction)"})));
    for (const t of rows) {
      const spec = map.specs[t.name];
      const hit = tFilter && (t.name.toLowerCase().includes(tFilter) || t.description.toLowerCase().includes(tFilter));
      if (!(spec || t.required || hit || (allTargets && !tFilter))) continue;
      if (map.implicit.includes(t.name) && !spec) continue;
      const badge = spec && spec.const != null ? el("span", {"class": "const", text: "= " + spec.const}) : null;
      targets.append(el("li", {"class": "tgt" + (spec ? " mapped" : "") + (t.required ? " required" : "") +
          (state.selected === t.name ? " selected" : ""), "data-field": t.name},
        el("span", {"class": "dot"}), el("strong", {text: t.name}),
        el("span", {"class": "len", text: t.length != null ? "(" + t.length + ")" : ""}),
        el("span", {"class": "desc", text: t.description + (t.required ? " · required" : "")}), badge,
        spec ? null : hint(map, t.name)));
    }
    wires();
    loadSuggestions(map);
  }

  // -- suggestions (issue 14): the suggester's best shop field per unmapped M3 field, one click to use ---------
  const SUGGEST_MIN = 0.5;  // below this a hint is more noise than help (psinfor map suggest still lists them)
  function usable(map, field) {
    const found = (state.suggestions[map.key] || {})[field] || [];
    for (const c of found) if (c.paths && c.paths.length && c.score >= SUGGEST_MIN) return c;
    return null;
  }
  function hint(map, field) {
    const c = usable(map, field);
    if (!c) return null;
    const path = c.paths[0];
    const use = el("button", {type: "button", "class": "link use-suggestion", "data-field": field,
      "data-path": path, text: "use", title: c.why});
    return el("span", {"class": "suggestion", "data-suggested": path, title: c.why},
      "suggested: " + path + " (" + c.score.toFixed(2) + ") ", use);
  }
  function suggestedSpec(c, path) {
    const spec = {from: path};
    if (c.transform && c.transform.startsWith("truncate")) spec.truncate = true;
    else if (c.transform && D.formats.includes(c.transform)) spec.format = c.transform;
    return spec;
  }
  async function loadSuggestions(map) {
    if (!D.suggest_url || state.suggestions[map.key]) return;
    state.suggestions[map.key] = {};  // asked once per field map
    const response = await fetch(D.suggest_url + "?map=" + encodeURIComponent(map.key), {credentials: "same-origin"});
    if (!response.ok) return;
    const data = await response.json();
    for (const s of data.suggestions || []) state.suggestions[map.key][s.field] = s.candidates;
    if (currentMap() && currentMap().key === map.key) draw();
  }

  function wires() {
    const svg = $("wires");
    const box = $("designer").getBoundingClientRect();
    svg.setAttribute("width", box.width);
    svg.setAttribute("height", box.height);
    svg.replaceChildren();
    const map = currentMap();
    for (const [field, spec] of Object.entries(map.specs)) {
      if (!spec.from) continue;
      const src = document.querySelector('#sources .src[data-path="' + CSS.escape(spec.from) + '"] .dot');
      const tgt = document.querySelector('#targets .tgt[data-field="' + CSS.escape(field) + '"] .dot');
      if (!src || !tgt) continue;
      const a = center(src, box), b = center(tgt, box);
      curve(svg, a, b, "wire" + (state.selected === field ? " selected" : ""), field);
      const label = summary(spec);
      if (label) {  // the transform, on the line just before the M3 field it feeds
        const t = document.createElementNS(SVG, "text");
        t.setAttribute("x", b.x - 10);
        t.setAttribute("y", b.y - 4);
        t.setAttribute("class", "wire-label");
        t.textContent = label;
        svg.append(t);
      }
    }
    proposedWires(svg, box, map);
  }
  function proposedWires(svg, box, map) {
    for (const node of document.querySelectorAll("#targets .suggestion")) {
      const field = node.closest(".tgt").dataset.field;
      const src = document.querySelector('#sources .src[data-path="' + CSS.escape(node.dataset.suggested) + '"] .dot');
      const tgt = document.querySelector('#targets .tgt[data-field="' + CSS.escape(field) + '"] .dot');
      if (src && tgt && !map.specs[field]) curve(svg, center(src, box), center(tgt, box), "wire proposed");
    }
  }
  function center(node, box) {
    const r = node.getBoundingClientRect();
    return {x: r.left + r.width / 2 - box.left, y: r.top + r.height / 2 - box.top};
  }
  function curve(svg, a, b, cls, field) {
    const p = document.createElementNS(SVG, "path");
    const dx = Math.max(40, (b.x - a.x) / 2);
    p.setAttribute("d", `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`);
    p.setAttribute("class", cls);
    if (field) p.setAttribute("data-wire", field);
    svg.append(p);
    return p;
  }

  // -- editing -------------------------------------------------------------------------------------------
  function setSpec(field, spec) {
    const map = currentMap();
    state.ops.push({map: map.key, field: field, spec: spec});
    if (spec) map.specs[field] = spec; else delete map.specs[field];  // shown at once; the server confirms
    draw();
    changed();
  }

  function connect(path, field) {
    const map = currentMap();
    const old = Object.assign({}, map.specs[field] || {});
    delete old.const;
    setSpec(field, Object.assign({from: path}, old, {from: path}));
    select(field);
  }

  function select(field) {
    state.selected = field;
    const map = currentMap();
    const spec = map.specs[field] || {};
    const target = map.targets.find((t) => t.name === field) || {description: ""};
    $("inspector").hidden = false;
    $("insp-field").textContent = field;
    $("insp-desc").textContent = target.description + (target.length ? " · " + target.length + " characters" : "");
    $("insp-sources").replaceChildren(...map.sources.map((s) => el("option", {value: s})));
    $("insp-from").value = spec.from || "";
    $("insp-const").value = spec.const != null ? spec.const : "";
    $("insp-default").value = spec.default != null ? spec.default : "";
    $("insp-format").value = spec.format || "text";
    $("insp-lookup").value = spec.lookup || "";
    $("insp-only-if").value = spec.only_if || "";
    $("insp-truncate").checked = !!spec.truncate;
    $("insp-omit-zero").checked = !!spec.omit_zero;
    draw();
  }

  function inspectorSpec() {
    const spec = {};
    const from = $("insp-from").value.trim(), cst = $("insp-const").value;
    if (cst !== "") spec.const = cst; else if (from) spec.from = from;
    if ($("insp-default").value !== "") spec.default = $("insp-default").value;
    if ($("insp-format").value !== "text") spec.format = $("insp-format").value;
    if ($("insp-lookup").value) spec.lookup = $("insp-lookup").value;
    if ($("insp-only-if").value) spec.only_if = $("insp-only-if").value;
    if ($("insp-truncate").checked) spec.truncate = true;
    if ($("insp-omit-zero").checked) spec.omit_zero = true;
    return spec;
  }

  // -- talking to the server -------------------------------------------------------------------------------
  let timer = null;
  function changed() {
    const n = state.ops.length + (state.text != null && state.text !== D.text ? 1 : 0);
    $("edit-count").textContent = n ? n + " change(s) not saved" : "no changes";
    clearTimeout(timer);
    timer = setTimeout(check, 200);
  }

  function body() {
    const b = state.text != null ? {text: state.text} : {ops: state.ops};
    const order = $("preview-order");
    if (order) { b.order_id = order.value.trim(); b.connection = $("preview-connection").value; }
    return b;
  }

  async function post(url, payload) {
    const response = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}, body: JSON.stringify(payload)});
    let data = {};
    try { data = await response.json(); } catch (e) { data = {error: response.statusText}; }
    return {ok: response.ok, status: response.status, data: data};
  }

  async function check() {
    const seq = ++state.seq;
    $("check-status").textContent = "checking…";
    $("check-status").className = "check busy";
    const {ok, data} = await post(D.check_url, body());
    if (seq !== state.seq) return;  // a newer edit is on its way
    if (!ok) { showStatus([{file: D.name, key: "", problem: data.error || data.detail || "refused"}]); return; }
    state.problems = data.problems || [];
    state.lastDiff = data.diff || "";
    if (data.maps && data.maps.length && state.text == null) {
      state.maps = data.maps;
      draw();
      if (state.selected && !$("inspector").hidden) select(state.selected);
    }
    if ($("candidate-text")) $("candidate-text").textContent = data.text || "";
    showStatus(state.problems);
    $("review-save").disabled = !state.lastDiff || state.problems.length > 0;
    renderPreview(data.preview, data.preview_error);
  }

  function showStatus(problems) {
    const node = $("check-status");
    if (!problems.length) {
      node.className = "check ok";
      node.textContent = "✓ The mapping files check (the same loader as psinfor map check).";
      return;
    }
    node.className = "check bad";
    node.replaceChildren(el("strong", {text: problems.length + " problem(s):"}),
      el("ul", {}, ...problems.map((p) => el("li", {text: `${p.file}: ${p.key || "(top level)"}: ${p.problem}`}))));
  }

  function renderPreview(preview, error) {
    const node = $("preview-body");
    if (!node) return;
    if (error) { node.className = "bad"; node.textContent = error; return; }
    if (!preview) { node.className = "muted"; node.textContent = "Give a shop order id to preview it."; return; }
    node.className = "";
    const parts = [];
    const seen = {};
    for (const call of preview.infor || []) {
      const n = seen[call.transaction] = (seen[call.transaction] || 0) + 1;
      const rows = Object.entries(call.record).map(([k, v]) => el("tr", {},
        el("th", {text: k}), el("td", {text: v, "data-preview": call.transaction + "." + k, "data-index": n})));
      parts.push(el("div", {"class": "call"}, el("h4", {text: call.program + "/" + call.transaction + (n > 1 ? " #" + n : "")}),
        el("table", {"class": "grid kv"}, el("tbody", {}, ...rows))));
    }
    if (!(preview.infor || []).length) parts.push(el("p", {"class": "muted", text: "No M3 transaction."}));
    const findings = preview.validation || [];
    parts.push(el("h4", {text: findings.length ? "Validation: " + findings.length + " finding(s)" : "Validation: OK"}));
    if (findings.length) parts.push(el("ul", {"id": "findings"}, ...findings.map((f) =>
      el("li", {"class": "bad", text: `[${f.rule}] ${f.field || "-"}: ${f.message}`}))));
    for (const a of preview.anomalies || []) parts.push(el("p", {"class": "warn", text: `would be held for review [${a.rule}]: ${a.message}`}));
    for (const note of preview.notes || []) parts.push(el("p", {"class": "muted small", text: "note: " + note}));
    node.replaceChildren(el("div", {"class": "calls"}, ...parts));
  }

  async function save() {
    const payload = state.text != null ? {text: state.text} : {ops: state.ops};
    payload.base_hash = state.baseHash;
    const {ok, data} = await post(D.save_url, payload);
    const result = $("save-result");
    result.hidden = false;
    if (!ok) {
      result.className = "flash warning";
      result.textContent = "Not saved: " + (data.error || data.detail || "refused");
      return;
    }
    result.className = "flash info";
    result.textContent = `Saved ${data.file}; the previous version is kept as ${data.previous}. ${data.note || ""}`;
    state.ops = [];
    state.baseHash = data.hash;
    if (state.text != null) D.text = state.text;
    $("save-panel").hidden = true;
    changed();
  }

  // -- wiring up -------------------------------------------------------------------------------------------
  function pointFromEvent(e) { return {x: e.clientX, y: e.clientY}; }

  function init() {
    if (D.maps.length) {
      document.querySelectorAll("#map-tabs a").forEach((a) => a.addEventListener("click", (e) => {
        e.preventDefault(); state.current = a.dataset.map; state.selected = null; $("inspector").hidden = true; draw();
      }));
      for (const id of ["source-filter", "target-filter"]) $(id).addEventListener("input", draw);
      for (const id of ["show-all-sources", "show-all-targets"]) $(id).addEventListener("change", draw);
      window.addEventListener("resize", wires);
      $("sources").addEventListener("scroll", wires);
      $("targets").addEventListener("scroll", wires);

      // Drag a shop field (pointer events, so mouse, pen and touch alike) onto an M3 field.
      $("sources").addEventListener("pointerdown", (e) => {
        const src = e.target.closest(".src");
        if (!src) return;
        e.preventDefault();
        state.dragging = {path: src.dataset.path, dot: src.querySelector(".dot"), line: null};
        src.classList.add("dragging");
      });
      document.addEventListener("pointermove", (e) => {
        const drag = state.dragging;
        if (!drag) return;
        const svg = $("wires"), box = $("designer").getBoundingClientRect();
        if (drag.line) drag.line.remove();
        const p = pointFromEvent(e);
        drag.line = curve(svg, center(drag.dot, box), {x: p.x - box.left, y: p.y - box.top}, "wire drag");
        document.querySelectorAll(".tgt.drop").forEach((n) => n.classList.remove("drop"));
        const over = document.elementFromPoint(p.x, p.y);
        const tgt = over && over.closest(".tgt");
        if (tgt) tgt.classList.add("drop");
      });
      document.addEventListener("pointerup", (e) => {
        const drag = state.dragging;
        if (!drag) return;
        state.dragging = null;
        if (drag.line) drag.line.remove();
        document.querySelectorAll(".dragging, .drop").forEach((n) => n.classList.remove("dragging", "drop"));
        const over = document.elementFromPoint(e.clientX, e.clientY);
        const tgt = over && over.closest(".tgt");
        if (tgt) connect(drag.path, tgt.dataset.field);
      });
      $("targets").addEventListener("click", (e) => {
        const use = e.target.closest(".use-suggestion");
        if (use) {  // the same operation a drag makes, with the suggested transform
          e.stopPropagation();
          const c = usable(currentMap(), use.dataset.field);
          if (c) { setSpec(use.dataset.field, suggestedSpec(c, use.dataset.path)); select(use.dataset.field); }
          return;
        }
        const tgt = e.target.closest(".tgt");
        if (tgt) select(tgt.dataset.field);
      });
      $("insp-apply").addEventListener("click", () => { setSpec(state.selected, inspectorSpec()); });
      $("insp-remove").addEventListener("click", () => { setSpec(state.selected, null); $("inspector").hidden = true; });
      $("insp-close").addEventListener("click", () => { $("inspector").hidden = true; state.selected = null; draw(); });
      draw();
    } else {
      const area = $("yaml-text");
      area.addEventListener("input", () => { state.text = area.value; changed(); });
    }
    if ($("preview-refresh")) $("preview-refresh").addEventListener("click", check);
    if ($("preview-order")) $("preview-order").addEventListener("change", check);
    $("review-save").addEventListener("click", () => {
      $("diff").textContent = state.lastDiff;
      $("save-panel").hidden = false;
      $("save-panel").scrollIntoView({block: "nearest"});
    });
    $("cancel-save").addEventListener("click", () => { $("save-panel").hidden = true; });
    if ($("confirm-save")) $("confirm-save").addEventListener("click", save);
    check();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();

/* podium's workflow builder: a canvas of tasks over the builder API (/api/builder/...).
 *
 * Every form is built from the JSON Schema the API hands out (each kind describes its own
 * settings; nothing here knows a kind's fields); pickers are filled from the project.
 * The workflow is kept as plain data, the same shape as its YAML; the server writes it
 * back into the file keeping what was not changed. No framework, no build step.
 */
(function () {
  "use strict";

  // -- the list page: "New workflow" turns a name into workflows/NAME.yaml ----------------
  var newForm = document.getElementById("bd-new");
  if (newForm) {
    newForm.addEventListener("submit", function (evt) {
      evt.preventDefault();
      var name = document.getElementById("bd-new-name").value.trim();
      window.location.href = "/builder/" + encodeURIComponent(name);
    });
  }
  var root = document.getElementById("builder");
  if (!root) return;

  var FILE = root.dataset.file;
  var CSRF = root.dataset.csrf;
  var MAY_SAVE = root.dataset.maySave === "yes";
  var NODE_W = 170, NODE_H = 46, COL = 220, ROW = 66;

  var schema = null, pickers = null, doc = null, sha = null;
  var pos = {};          // task id -> {x, y}
  var selected = null;   // task id
  var problems = [];
  var validateTimer = null, validateSeq = 0;

  // -- small helpers -----------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function api(method, path, body) {
    var init = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = CSRF;
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        return { ok: r.ok, status: r.status, data: data };
      });
    });
  }
  var savedNote = "";  // the last save's confirmation, until the next change
  function status(text, kind) {
    var s = document.getElementById("bd-status");
    s.textContent = text;
    s.className = kind ? "bd-" + kind : "";
  }
  function kindOf(task) {
    var found = null;
    schema.kinds.forEach(function (k) { if (found === null && k.name in task) found = k; });
    return found;
  }
  function names(value) {
    if (value === undefined || value === null || value === "") return [];
    return Array.isArray(value) ? value.slice() : [String(value)];
  }
  function tasks() { return doc.tasks || (doc.tasks = []); }
  function taskById(id) { return tasks().filter(function (t) { return t.id === id; })[0]; }
  function types(s) {
    if (s.anyOf) return s.anyOf.reduce(function (all, b) { return all.concat(types(b)); }, []);
    if (s.enum) return ["string"];
    return Array.isArray(s.type) ? s.type : (s.type ? [s.type] : []);
  }
  function isNames(s) {
    var t = types(s);
    return s.anyOf && t.indexOf("array") >= 0 && t.indexOf("object") < 0 && t.indexOf("string") >= 0;
  }
  function changed() {
    savedNote = "";
    render();
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validate, 350);
  }

  // -- a form field from a JSON Schema ------------------------------------------------------
  // get(): the current value (undefined: not set); set(v): undefined removes the key.
  function field(label, s, get, set, opts) {
    opts = opts || {};
    var id = "bd-f-" + (opts.key || label).replace(/[^A-Za-z0-9_-]/g, "_") + "-" + Math.random().toString(36).slice(2, 7);
    var value = get();
    var input;
    var t = types(s);
    var list = opts.picks ? pickList(opts.picks) : null;
    var listId = list ? id + "-list" : null;
    var wrap = el("div", { "class": "bd-field", "data-field": opts.key || label });
    var lab = el("label", { "for": id, text: label, title: s.description || "" });
    wrap.appendChild(lab);
    if (s.enum) {
      input = el("select", { id: id });
      input.appendChild(el("option", { value: "", text: "(default)" }));
      s.enum.forEach(function (v) { input.appendChild(el("option", { value: v, text: v, selected: v === value })); });
      input.addEventListener("change", function () { set(input.value === "" ? undefined : input.value); changed(); });
    } else if (t.length === 1 && t[0] === "boolean") {
      input = el("select", { id: id });
      [["", "(default)"], ["true", "true"], ["false", "false"]].forEach(function (o) {
        input.appendChild(el("option", { value: o[0], text: o[1], selected: String(value) === o[0] && value !== undefined }));
      });
      input.addEventListener("change", function () { set(input.value === "" ? undefined : input.value === "true"); changed(); });
    } else if (s.anyOf && t.indexOf("object") >= 0 && t.length > 1) {
      return branchField(label, s, get, set, opts);
    } else if (t.length === 1 && t[0] === "object" && s.properties) {
      var box = el("fieldset", { "class": "bd-sub", "data-field": opts.key || label }, [el("legend", { text: label })]);
      var obj = value && typeof value === "object" ? value : {};
      Object.keys(s.properties).forEach(function (k) {
        box.appendChild(field(k, s.properties[k], function () { return obj[k]; }, function (v) {
          if (v === undefined) delete obj[k]; else obj[k] = v;
          set(Object.keys(obj).length ? obj : undefined);
        }, { key: k, readOnly: opts.readOnly }));
      });
      return box;
    } else if (t.length === 1 && t[0] === "object") {
      input = el("textarea", { id: id, rows: 2, placeholder: "{\"key\": \"value\"}" });
      input.value = value === undefined ? "" : JSON.stringify(value);
      input.addEventListener("change", function () {
        if (input.value.trim() === "") { set(undefined); changed(); return; }
        try { var parsed = JSON.parse(input.value); set(parsed); input.classList.remove("bd-invalid"); changed(); }
        catch (e) { input.classList.add("bd-invalid"); status(label + ": not JSON (" + e.message + ")", "bad"); }
      });
    } else if (isNames(s) || (t.length === 1 && t[0] === "array")) {
      input = el("input", { id: id, type: "text", list: listId, placeholder: "a, b" });
      input.value = names(value).join(", ");
      input.addEventListener("change", function () {
        var items = input.value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
        if (!items.length) set(undefined);
        else if (typeof value === "string" && items.length === 1 && t.indexOf("string") >= 0) set(items[0]);
        else set(items);
        changed();
      });
    } else if (t.length === 1 && (t[0] === "integer" || t[0] === "number")) {
      input = el("input", { id: id, type: "number", step: t[0] === "integer" ? "1" : "any" });
      input.value = value === undefined ? "" : String(value);
      input.addEventListener("change", function () {
        set(input.value === "" ? undefined : Number(input.value));
        changed();
      });
    } else {
      input = el("input", { id: id, type: "text", list: listId });
      input.value = value === undefined ? "" : String(value);
      input.addEventListener("change", function () { set(coerce(input.value, t)); changed(); });
    }
    if (opts.readOnly) input.disabled = true;
    input.setAttribute("name", opts.key || label);
    wrap.appendChild(input);
    if (list) {
      var dl = el("datalist", { id: listId });
      list.forEach(function (v) { dl.appendChild(el("option", { value: v })); });
      wrap.appendChild(dl);
    }
    if (s.description) wrap.appendChild(el("small", { text: s.description }));
    wrap.appendChild(el("span", { "class": "bd-error", "data-error-for": opts.key || label }));
    return wrap;
  }
  function coerce(text, t) {
    text = text.trim();
    if (text === "") return undefined;
    if ((t.indexOf("number") >= 0 || t.indexOf("integer") >= 0) && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
    if (t.indexOf("boolean") >= 0 && (text === "true" || text === "false")) return text === "true";
    return text;
  }
  // anyOf with an object branch (an asset trigger: names, or {all_of, deadline}): choose one
  function branchField(label, s, get, set, opts) {
    var box = el("fieldset", { "class": "bd-sub", "data-field": opts.key || label }, [el("legend", { text: label })]);
    var objectBranch = s.anyOf.filter(function (b) { return types(b).indexOf("object") >= 0 && !b.anyOf; })[0];
    var other = { anyOf: s.anyOf.filter(function (b) { return b !== objectBranch; }), description: s.description };
    var value = get();
    var isObject = value && typeof value === "object" && !Array.isArray(value);
    var choose = el("select", { "class": "bd-branch", name: (opts.key || label) + "-form" });
    choose.appendChild(el("option", { value: "names", text: "a name or a list", selected: !isObject }));
    choose.appendChild(el("option", { value: "object", text: "settings (" + Object.keys(objectBranch.properties || {}).join(", ") + ")", selected: isObject }));
    choose.disabled = !!opts.readOnly;
    choose.addEventListener("change", function () { set(choose.value === "object" ? {} : undefined); changed(); });
    box.appendChild(choose);
    var sub = isObject ? objectBranch : other;
    box.appendChild(field(opts.key || label, sub, get, set, { key: opts.key, readOnly: opts.readOnly, picks: opts.picks }));
    return box;
  }
  function pickList(which) {
    if (!pickers) return [];
    if (which === "streams") {
      var task = taskById(selected), out = [];
      var c = task && pickers.connections[task.extract];
      return c && c.streams ? c.streams : out;
    }
    var v = pickers[which];
    return Array.isArray(v) ? v : Object.keys(v || {});
  }

  // -- layout and the canvas ---------------------------------------------------------------
  function layout() {
    var level = {}, seen = {};
    function depth(id) {
      if (level[id] !== undefined) return level[id];
      if (seen[id]) return 0;
      seen[id] = true;
      var t = taskById(id), d = 0;
      names(t && t.depends_on).forEach(function (up) { if (taskById(up)) d = Math.max(d, depth(up) + 1); });
      return (level[id] = d);
    }
    var rows = {};
    tasks().forEach(function (t) {
      if (pos[t.id]) return;
      var d = depth(t.id);
      var used = Object.keys(pos).filter(function (k) { return Math.abs(pos[k].x - (30 + d * COL)) < 5; }).length;
      rows[d] = Math.max(rows[d] || 0, used);
      pos[t.id] = { x: 30 + d * COL, y: 24 + rows[d] * ROW };
      rows[d] += 1;
    });
  }
  function drawCanvas() {
    var canvas = document.getElementById("bd-canvas");
    var nodes = document.getElementById("bd-nodes"), edges = document.getElementById("bd-edges");
    nodes.textContent = ""; edges.textContent = "";
    layout();
    var maxX = 600, maxY = 300;
    tasks().forEach(function (t) {
      var p = pos[t.id];
      maxX = Math.max(maxX, p.x + NODE_W + 60); maxY = Math.max(maxY, p.y + NODE_H + 40);
      names(t.depends_on).forEach(function (up) {
        var q = pos[up];
        if (!q) return;
        var x1 = q.x + NODE_W, y1 = q.y + NODE_H / 2, x2 = p.x, y2 = p.y + NODE_H / 2;
        var mid = (x1 + x2) / 2;
        var path = svg("path", {
          d: "M" + x1 + "," + y1 + " C" + mid + "," + y1 + " " + mid + "," + y2 + " " + x2 + "," + y2,
          "class": "bd-edge", "marker-end": "url(#bd-arrow)", "data-from": up, "data-to": t.id
        });
        var title = svg("title", {}); title.textContent = up + " → " + t.id + (MAY_SAVE ? " (click to remove)" : "");
        path.appendChild(title);
        if (MAY_SAVE) path.addEventListener("click", function () { removeDependency(t.id, up); });
        edges.appendChild(path);
      });
    });
    tasks().forEach(function (t) {
      var p = pos[t.id], k = kindOf(t);
      var bad = problems.some(function (pr) { return pr.task === t.id; });
      var g = svg("g", { "class": "bd-node" + (t.id === selected ? " bd-selected" : "") + (bad ? " bd-bad" : ""),
        "data-task": t.id, transform: "translate(" + p.x + "," + p.y + ")" });
      g.appendChild(svg("rect", { width: NODE_W, height: NODE_H, rx: 6 }));
      var label = svg("text", { x: 10, y: 19, "class": "bd-node-id" }); label.textContent = t.id;
      var sub = svg("text", { x: 10, y: 36, "class": "bd-node-kind" });
      sub.textContent = k ? k.name + ": " + String(t[k.name] || "…").slice(0, 22) : "no kind";
      g.appendChild(label); g.appendChild(sub);
      if (MAY_SAVE) {
        var handle = svg("circle", { cx: NODE_W, cy: NODE_H / 2, r: 7, "class": "bd-handle", "data-handle": t.id });
        var ht = svg("title", {}); ht.textContent = "drag onto a task that should run after " + t.id;
        handle.appendChild(ht);
        g.appendChild(handle);
      }
      nodes.appendChild(g);
    });
    canvas.setAttribute("width", maxX); canvas.setAttribute("height", maxY);
  }

  var drag = null;
  function point(evt) {
    var canvas = document.getElementById("bd-canvas");
    var box = canvas.getBoundingClientRect();
    return { x: evt.clientX - box.left, y: evt.clientY - box.top };
  }
  function onDown(evt) {
    var handle = evt.target.closest("[data-handle]");
    var node = evt.target.closest(".bd-node");
    if (!node) return;
    var id = node.getAttribute("data-task");
    evt.preventDefault();
    var p = point(evt);
    if (handle && MAY_SAVE) {
      drag = { kind: "edge", from: id };
      var line = document.getElementById("bd-drag");
      line.setAttribute("x1", pos[id].x + NODE_W); line.setAttribute("y1", pos[id].y + NODE_H / 2);
      line.setAttribute("x2", p.x); line.setAttribute("y2", p.y);
      line.classList.add("bd-drawing");
    } else {
      drag = { kind: "move", id: id, dx: p.x - pos[id].x, dy: p.y - pos[id].y, moved: false };
    }
  }
  function onMove(evt) {
    if (!drag) return;
    var p = point(evt);
    if (drag.kind === "edge") {
      var line = document.getElementById("bd-drag");
      line.setAttribute("x2", p.x); line.setAttribute("y2", p.y);
    } else {
      pos[drag.id] = { x: Math.max(0, p.x - drag.dx), y: Math.max(0, p.y - drag.dy) };
      drag.moved = true;
      drawCanvas();
    }
  }
  function onUp(evt) {
    if (!drag) return;
    var d = drag; drag = null;
    document.getElementById("bd-drag").classList.remove("bd-drawing");
    if (d.kind === "edge") {
      var target = document.elementFromPoint(evt.clientX, evt.clientY);
      var node = target && target.closest && target.closest(".bd-node");
      if (node) addDependency(node.getAttribute("data-task"), d.from);
      return;
    }
    if (!d.moved) select(d.id);
  }
  function addDependency(id, up) {
    var t = taskById(id);
    if (!t || id === up) return;
    var deps = names(t.depends_on);
    if (deps.indexOf(up) >= 0) return;
    deps.push(up);
    t.depends_on = deps;
    if (pos[id] && pos[up] && pos[id].x <= pos[up].x) {  // keep the arrow going right
      pos[id] = { x: pos[up].x + COL, y: pos[up].y };
    }
    changed();
  }
  function removeDependency(id, up) {
    var t = taskById(id);
    var deps = names(t.depends_on).filter(function (x) { return x !== up; });
    if (deps.length) t.depends_on = deps; else delete t.depends_on;
    changed();
  }

  // -- panels --------------------------------------------------------------------------------
  function drawPalette() {
    var box = document.getElementById("bd-palette");
    box.querySelectorAll("button").forEach(function (b) { b.remove(); });
    schema.kinds.forEach(function (k) {
      var b = el("button", { type: "button", "class": "bd-kind", "data-kind": k.name, title: k.doc + " Its value: " + k.target,
        text: "+ " + k.name, disabled: !MAY_SAVE });
      b.addEventListener("click", function () { addTask(k); });
      box.appendChild(b);
    });
  }
  function addTask(k) {
    var n = 1, id = k.name;
    while (taskById(id)) { n += 1; id = k.name + "_" + n; }
    var t = { id: id };
    t[k.name] = "";
    tasks().push(t);
    selected = id;
    changed();
  }
  function select(id) { selected = id; render(); }

  function drawWorkflow() {
    var box = document.getElementById("bd-workflow");
    box.textContent = "";
    box.appendChild(el("h2", { text: "Workflow" }));
    var props = schema.workflow || {};
    ["name", "description", "max_active_runs", "params"].forEach(function (k) {
      if (!props[k]) return;
      box.appendChild(field(k, props[k], function () { return doc[k]; }, function (v) {
        if (v === undefined) delete doc[k]; else doc[k] = v;
      }, { key: k, readOnly: !MAY_SAVE }));
    });
    decorate(box, problems.filter(function (p) { return !p.task && p.trigger === null && p.file === FILE; }));
  }

  function drawTriggers() {
    var box = document.getElementById("bd-triggers");
    box.textContent = "";
    box.appendChild(el("h2", { text: "Triggers" }));
    (doc.triggers || []).forEach(function (trig, index) {
      var type = Object.keys(schema.triggers).filter(function (t) { return t in trig; })[0];
      var s = schema.triggers[type] || { properties: {} };
      var card = el("fieldset", { "class": "bd-trigger", "data-trigger": index, "data-type": type || "unknown" },
        [el("legend", { text: type || "unknown trigger" })]);
      Object.keys(s.properties).forEach(function (k) {
        var picks = (schema.trigger_picks[type] || {})[k];
        card.appendChild(field(k, s.properties[k], function () { return trig[k]; }, function (v) {
          if (v === undefined) delete trig[k]; else trig[k] = v;
        }, { key: k, readOnly: !MAY_SAVE, picks: picks }));
      });
      if (type === "schedule") {
        var next = el("div", { "class": "bd-next", "data-next-times": index, text: "next times: …" });
        card.appendChild(next);
        nextTimes(trig, next);
      }
      if (MAY_SAVE) {
        card.appendChild(el("button", { type: "button", "class": "bd-remove", text: "Remove trigger", onclick: function () {
          doc.triggers.splice(index, 1);
          if (!doc.triggers.length) delete doc.triggers;
          changed();
        } }));
      }
      decorate(card, problems.filter(function (p) { return p.trigger === index; }));
      box.appendChild(card);
    });
    if (MAY_SAVE) {
      var add = el("div", { "class": "bd-add-trigger" });
      Object.keys(schema.triggers).forEach(function (type) {
        add.appendChild(el("button", { type: "button", "data-add-trigger": type, text: "+ " + type, onclick: function () {
          var t = {}; t[type] = "";
          (doc.triggers || (doc.triggers = [])).push(t);
          changed();
        } }));
      });
      box.appendChild(add);
    }
  }
  function nextTimes(trig, out) {
    if (!trig.schedule) { out.textContent = "next times: set a schedule"; return; }
    api("POST", "/api/builder/next-times", { schedule: String(trig.schedule), timezone: trig.timezone || "UTC" })
      .then(function (r) {
        out.textContent = "";
        if (!r.ok || r.data.problem) { out.textContent = r.data.problem || r.data.error || "not a schedule"; out.classList.add("bd-error-text"); return; }
        out.appendChild(el("strong", { text: "next five times (" + r.data.timezone + "):" }));
        var ul = el("ul");
        r.data.times.forEach(function (t) { ul.appendChild(el("li", { text: t.replace("T", " ") })); });
        out.appendChild(ul);
      });
  }

  function drawTask() {
    var box = document.getElementById("bd-task");
    box.textContent = "";
    var t = taskById(selected);
    if (!t) { box.appendChild(el("p", { "class": "bd-hint", text: tasks().length ? "Click a task to edit it." : "Add a task from the palette." })); return; }
    box.setAttribute("data-task", t.id);
    box.appendChild(el("h2", { text: "Task " + t.id }));
    var k = kindOf(t);
    var ro = !MAY_SAVE;
    box.appendChild(field("id", schema.task.properties.id, function () { return t.id; }, function (v) { renameTask(t, v); }, { key: "id", readOnly: ro }));
    var kinds = el("select", { name: "kind", disabled: ro });
    schema.kinds.forEach(function (kk) { kinds.appendChild(el("option", { value: kk.name, text: kk.name, selected: k && kk.name === k.name })); });
    kinds.addEventListener("change", function () { changeKind(t, k, kinds.value); });
    box.appendChild(el("div", { "class": "bd-field", "data-field": "kind" }, [el("label", { text: "kind" }), kinds]));
    if (k) {
      box.appendChild(field(k.name, { type: "string", description: k.doc + " Its value: " + k.target + "." },
        function () { return t[k.name]; }, function (v) { t[k.name] = v === undefined ? "" : v; },
        { key: k.name, readOnly: ro, picks: k.picks.target }));
      var own = k.options.properties || {};
      Object.keys(own).forEach(function (name) {
        box.appendChild(field(name, own[name], function () { return t[name]; }, setter(t, name), { key: name, readOnly: ro, picks: k.picks[name] }));
      });
    }
    var deps = el("fieldset", { "class": "bd-sub", "data-field": "depends_on" }, [el("legend", { text: "depends_on (runs after)" })]);
    tasks().forEach(function (other) {
      if (other.id === t.id) return;
      var cb = el("input", { type: "checkbox", name: "depends_on", value: other.id, checked: names(t.depends_on).indexOf(other.id) >= 0, disabled: ro });
      cb.addEventListener("change", function () { if (cb.checked) addDependency(t.id, other.id); else removeDependency(t.id, other.id); });
      deps.appendChild(el("label", { "class": "bd-check" }, [cb, document.createTextNode(" " + other.id)]));
    });
    deps.appendChild(el("span", { "class": "bd-error", "data-error-for": "depends_on" }));
    box.appendChild(deps);
    box.appendChild(field("produces", schema.task.properties.produces, function () { return t.produces; }, setter(t, "produces"), { key: "produces", readOnly: ro }));
    var opts = schema.task_options.properties;
    Object.keys(opts).forEach(function (name) {
      box.appendChild(field(name, opts[name], function () { return t[name]; }, setter(t, name), { key: name, readOnly: ro, picks: schema.task_option_picks[name] }));
    });
    if (!ro) {
      box.appendChild(el("button", { type: "button", "class": "bd-remove", text: "Delete task", onclick: function () { deleteTask(t); } }));
    }
    decorate(box, problems.filter(function (p) { return p.task === t.id; }));
  }
  function setter(obj, key) {
    return function (v) { if (v === undefined) delete obj[key]; else obj[key] = v; };
  }
  function renameTask(t, id) {
    if (!id || id === t.id || taskById(id)) return;
    var old = t.id;
    t.id = id;
    pos[id] = pos[old]; delete pos[old];
    tasks().forEach(function (o) {
      if (o.depends_on === undefined) return;
      if (typeof o.depends_on === "string") { if (o.depends_on === old) o.depends_on = id; }
      else o.depends_on = o.depends_on.map(function (x) { return x === old ? id : x; });
    });
    selected = id;
  }
  function changeKind(t, from, to) {
    var target = from ? t[from.name] : "";
    var next = schema.kinds.filter(function (k) { return k.name === to; })[0];
    var rebuilt = {};
    Object.keys(t).forEach(function (key) {
      if (from && key === from.name) { rebuilt[to] = target; return; }
      if (from && key in (from.options.properties || {}) && !(key in (next.options.properties || {}))) return;
      rebuilt[key] = t[key];
    });
    if (!(to in rebuilt)) rebuilt[to] = target || "";
    Object.keys(t).forEach(function (key) { delete t[key]; });
    Object.keys(rebuilt).forEach(function (key) { t[key] = rebuilt[key]; });
    changed();
  }
  function deleteTask(t) {
    doc.tasks = tasks().filter(function (o) { return o !== t; });
    tasks().forEach(function (o) { if (names(o.depends_on).indexOf(t.id) >= 0) removeDependency(o.id, t.id); });
    delete pos[t.id];
    selected = null;
    changed();
  }

  // -- problems: podium validate's messages, on the task and field they concern -------------
  function decorate(box, found) {
    found.forEach(function (p) {
      var slot = p.field && box.querySelector('[data-error-for="' + CSS.escape(p.field) + '"]');
      var target = slot || box.querySelector('[data-error-for="' + CSS.escape(kindKeyOf(p)) + '"]');
      var line = el("span", { "class": "bd-error-line", text: p.message });
      if (target) target.appendChild(line);
      else box.appendChild(el("p", { "class": "bd-error-text", text: p.message }));
    });
  }
  function kindKeyOf(p) {
    var t = p.task && taskById(p.task);
    var k = t && kindOf(t);
    return k ? k.name : "id";
  }
  function drawProblems() {
    var box = document.getElementById("bd-problems");
    box.textContent = "";
    if (!problems.length) return;
    box.appendChild(el("h2", { text: problems.length + (problems.length === 1 ? " problem" : " problems") + " (as podium validate says)" }));
    var ul = el("ul");
    problems.forEach(function (p) {
      var item = el("li", { "data-problem-task": p.task || "" }, [el("code", { text: p.file + ":" + p.line + ": " }), document.createTextNode(p.message)]);
      if (p.task) item.addEventListener("click", function () { select(p.task); });
      ul.appendChild(item);
    });
    box.appendChild(ul);
  }

  function render() {
    drawCanvas();
    drawWorkflow();
    drawTriggers();
    drawTask();
    drawProblems();
  }

  function body() { return { file: FILE, document: doc, sha256: sha }; }
  function validate() {
    var seq = ++validateSeq;
    status("checking…", "busy");
    api("POST", "/api/builder/validate", body()).then(function (r) {
      if (seq !== validateSeq) return;
      if (!r.ok) { problems = []; status(r.data.error || "cannot check", "bad"); render(); return; }
      problems = r.data.problems;
      var said = problems.length ? problems.length + (problems.length === 1 ? " problem" : " problems") : "valid";
      status(said + (savedNote ? " · " + savedNote : ""), problems.length ? "bad" : "good");
      render();
    });
  }

  // -- saving: the diff first, then the save (refused when the file changed on disk) --------
  function review() {
    api("POST", "/api/builder/diff", body()).then(function (r) {
      var dialog = document.getElementById("bd-dialog");
      var out = document.getElementById("bd-diff");
      document.getElementById("bd-save-message").textContent = "";
      out.textContent = "";
      if (!r.ok) { out.textContent = r.data.error; }
      else if (!r.data.diff) { out.textContent = "No changes."; }
      else {
        r.data.diff.split("\n").forEach(function (line) {
          var cls = line[0] === "+" && line.slice(0, 3) !== "+++" ? "bd-add" : line[0] === "-" && line.slice(0, 3) !== "---" ? "bd-del" : "";
          out.appendChild(el("span", { "class": cls, text: line + "\n" }));
        });
      }
      document.getElementById("bd-save").disabled = !r.ok || !r.data.diff;
      dialog.showModal();
    });
  }
  function save() {
    var message = document.getElementById("bd-save-message");
    message.textContent = "saving…";
    api("POST", "/api/builder/save", body()).then(function (r) {
      if (!r.ok) { message.textContent = r.data.error || ("not saved (" + r.status + ")"); message.className = "bd-error-text"; return; }
      sha = r.data.sha256;
      message.textContent = "";
      document.getElementById("bd-dialog").close();
      // kept beside the status until the next change: a check still in flight answers after
      savedNote = "saved " + r.data.file + "; podium up picks it up in a moment";
      status(savedNote, "good");
    });
  }

  function start() {
    Promise.all([
      api("GET", "/api/builder/schema"),
      api("GET", "/api/builder/pickers"),
      api("GET", "/api/builder/files/" + encodeURIComponent(FILE.replace(/^.*\//, ""))),
    ]).then(function (rs) {
      var failed = rs.filter(function (r) { return !r.ok; })[0];
      if (failed) { status(failed.data.error || "cannot open the builder", "bad"); return; }
      schema = rs[0].data; pickers = rs[1].data;
      var file = rs[2].data;
      sha = file.sha256;
      doc = file.exists ? file.document : { name: FILE.replace(/^.*\//, "").replace(/\.ya?ml$/, ""), tasks: [] };
      drawPalette();
      var canvas = document.getElementById("bd-canvas");
      canvas.addEventListener("mousedown", onDown);
      window.addEventListener("mousemove", onMove);
      window.addEventListener("mouseup", onUp);
      if (MAY_SAVE) {
        document.getElementById("bd-review").addEventListener("click", review);
        document.getElementById("bd-save").addEventListener("click", save);
      }
      render();
      validate();
      root.setAttribute("data-ready", "yes");
    });
  }
  start();
})();

/* The interactive lens grid (docs/logit-lens.md): every layer × position of a prompt, read
   through the logit lens or the tuned lens, with the top tokens of any cell.

   The data are computed at build time by snippets/lens_explorer.py, one file per prompt
   (data/lens-<label>.json), each of which also names all the prompts. The placeholder's
   data-src lists the files, the first one shown first: it is loaded only when the view comes
   near the screen, another only when its prompt is chosen. Grids are flattened layer by layer, then position by position (then rank, for the
   top tokens), written as `encode` writes them; probabilities are integers in units of
   1 / p_scale, entropies in units of 1 / entropy_scale bits. The current selection is kept in
   the root's data attributes (data-prompt, -lens, -mode, -target, -layer, -position), and a
   test drives this page in Chromium and compares what it shows with the Python lens. Plain
   JavaScript, no requests beyond the site's own data files. */
(function () {
  "use strict";

  var MODES = { probability: "probability", rank: "rank", entropy: "entropy" };
  var STRONG = 0.55; // from here on up the scale, cells take the ink for strong colours

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // As snippets/next_token.py show_token: spaces as "␣", newlines as "↵".
  function visible(token) { return token.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5"); }

  function quoted(token) { return "\u201c" + visible(token) + "\u201d"; }

  // The integers snippets/lens_explorer.py `encode` wrote ("z<n>": n zeros).
  function decode(text) {
    var out = [];
    text.split(" ").forEach(function (word) {
      if (word === "") return;
      if (word.charAt(0) === "z") {
        for (var n = parseInt(word.slice(1), 10); n > 0; n--) out.push(0);
      } else {
        out.push(parseInt(word, 10));
      }
    });
    return out;
  }

  function thousands(n) { return n.toLocaleString("en-US"); }

  // index: the first prompt's file (every file names the prompts, the model and the steps)
  function init(root, index) {
    var pScale = index.p_scale, hScale = index.entropy_scale;
    var digits = Math.max(0, Math.round(Math.log10(pScale)) - 2);
    var maxBits = Math.log2(index.vocab);
    var files = {};

    // a stored 0 is a probability below half a step
    function percent(stored) {
      if (stored === 0) return "< " + (50 / pScale).toFixed(digits + 1) + " %";
      return (100 * stored / pScale).toFixed(digits) + " %";
    }
    function bits(stored) { return (stored / hScale).toFixed(2) + " bits"; }

    /* ---- controls ---- */
    var controls = el("div", { "class": "ss-lens-controls" });
    var promptLabel = el("label", { "for": "ss-lens-prompt" }, "prompt");
    var promptSelect = el("select", { id: "ss-lens-prompt" });
    index.prompts.forEach(function (entry, i) {
      promptSelect.appendChild(el("option", { value: String(i) },
        entry.label + ": \u201c" + entry.prompt.replace(/\n/g, "\u21b5 ") + "\u201d"));
    });
    var promptRow = el("div", { "class": "ss-lens-row-control" });
    promptRow.appendChild(promptLabel);
    promptRow.appendChild(promptSelect);

    function radios(name, legend, options) {
      var set = el("fieldset", { "class": "ss-lens-radios" });
      set.appendChild(el("legend", {}, legend));
      var inputs = {};
      Object.keys(options).forEach(function (value) {
        var id = "ss-lens-" + name + "-" + value;
        var input = el("input", { type: "radio", name: "ss-lens-" + name, id: id, value: value });
        var label = el("label", { "for": id }, options[value]);
        var choice = el("span", { "class": "ss-lens-choice" });
        choice.appendChild(input);
        choice.appendChild(label);
        set.appendChild(choice);
        inputs[value] = input;
      });
      return { set: set, inputs: inputs };
    }

    var lensNames = {};
    index.lens_names.forEach(function (name) { lensNames[name] = name + " lens"; });
    var lensRadios = radios("lens", "lens", lensNames);
    var modeRadios = radios("mode", "colour", MODES);
    var targetLabel = el("label", { "for": "ss-lens-target" }, "probability of");
    var targetSelect = el("select", { id: "ss-lens-target" });
    var targetRow = el("div", { "class": "ss-lens-row-control" });
    targetRow.appendChild(targetLabel);
    targetRow.appendChild(targetSelect);
    [promptRow, lensRadios.set, modeRadios.set, targetRow].forEach(function (n) { controls.appendChild(n); });
    if (index.lens_names.length < 2) lensRadios.set.hidden = true;

    /* ---- colour bar ---- */
    var scale = el("div", { "class": "ss-lens-scale", "aria-hidden": "true" });
    var scaleLabel = el("div", { "class": "ss-lens-scale-label", id: "ss-lens-scale-label" });
    var gradient = el("div", { "class": "ss-lens-gradient" });
    var ticks = el("div", { "class": "ss-lens-ticks", id: "ss-lens-ticks" });
    scale.appendChild(scaleLabel);
    scale.appendChild(gradient);
    scale.appendChild(ticks);

    /* ---- grid and readout ---- */
    var scroller = el("div", { "class": "ss-lens-scroll" });
    var grid = el("div", { "class": "ss-lens-grid", role: "grid", id: "ss-lens-grid" });
    scroller.appendChild(grid);
    var hint = el("p", { "class": "ss-lens-hint" },
      "Hover over or tap a cell; or focus the grid and move with the arrow keys (Home/End: first and last position, Page Up/Down: top and bottom layer).");
    var readout = el("div", { "class": "ss-lens-readout", id: "ss-lens-readout", "aria-live": "polite" });
    var where = el("p", { id: "ss-lens-where", "class": "ss-lens-where" });
    var topList = el("ol", { id: "ss-lens-top" });
    var valueLine = el("p", { "class": "ss-lens-value-line" });
    var valueLabel = el("span", { id: "ss-lens-value-label" });
    var value = el("strong", { id: "ss-lens-value" });
    valueLine.appendChild(valueLabel);
    valueLine.appendChild(document.createTextNode(": "));
    valueLine.appendChild(value);
    var others = el("p", { id: "ss-lens-others", "class": "ss-lens-others" });
    [where, topList, valueLine, others].forEach(function (n) { readout.appendChild(n); });

    root.textContent = "";
    [controls, scale, hint, readout, scroller].forEach(function (n) { root.appendChild(n); });

    /* ---- state ---- */
    var file = null, lensData = null, cells = [], state = {
      prompt: 0, lens: index.lens_names[0], mode: "probability", target: "answer", layer: 0, position: 0
    };

    function prepare(raw) {
      var out = { raw: raw, lenses: {} };
      Object.keys(raw.lenses).forEach(function (name) {
        var l = raw.lenses[name];
        var t = {
          top: decode(l.top), top_p: decode(l.top_p), entropy: decode(l.entropy),
          answer_p: decode(l.answer_p), answer_rank: decode(l.answer_rank),
          targets: l.targets, target_p: {}
        };
        l.targets.forEach(function (token, i) { t.target_p[token] = decode(l.target_p[i]); });
        out.lenses[name] = t;
      });
      return out;
    }

    function at(layer, position) { return layer * file.raw.positions + position; }

    function targetGrid() {
      return state.target === "answer" ? lensData.answer_p : lensData.target_p[state.target];
    }

    // The cell's place on the colour scale, 0 (pale) to 1 (full).
    function shade(i) {
      if (state.mode === "probability") return targetGrid()[i] / pScale;
      if (state.mode === "rank") return 1 - Math.log(lensData.answer_rank[i]) / Math.log(index.vocab);
      return lensData.entropy[i] / hScale / maxBits;
    }

    function drawScale() {
      var marks;
      if (state.mode === "probability") {
        scaleLabel.textContent = "probability of " + (state.target === "answer"
          ? "the final answer (each column's own)" : quoted(file.raw.tokens[state.target]));
        marks = [0, 0.25, 0.5, 0.75, 1].map(function (p) { return [p, String(p)]; });
      } else if (state.mode === "rank") {
        scaleLabel.textContent = "rank of the final answer (log scale, 1 = top token)";
        marks = [];
        // powers of ten, but none so close to the vocabulary's size that the labels collide
        for (var r = 1; Math.log(r) / Math.log(index.vocab) <= 0.8; r *= 10) {
          marks.push([1 - Math.log(r) / Math.log(index.vocab), thousands(r)]);
        }
        marks.push([0, thousands(index.vocab)]);
      } else {
        scaleLabel.textContent = "entropy of the lens's distribution, bits (max = log\u2082 vocabulary)";
        marks = [];
        for (var b = 0; b < maxBits - 1; b += 4) marks.push([b / maxBits, String(b)]);
        marks.push([1, maxBits.toFixed(1)]);
      }
      ticks.textContent = "";
      marks.forEach(function (m) {
        // the ticks at the ends are aligned inwards, so that their labels stay inside the box
        var edge = m[0] <= 0 ? " ss-lens-tick-start" : m[0] >= 1 ? " ss-lens-tick-end" : "";
        var tick = el("span", { "class": "ss-lens-tick" + edge }, m[1]);
        tick.style.left = (100 * m[0]).toFixed(2) + "%";
        ticks.appendChild(tick);
      });
    }

    function fillTargets() {
      targetSelect.textContent = "";
      targetSelect.appendChild(el("option", { value: "answer" }, "the final answer (each column's own)"));
      var positions = file.raw.positions;
      lensData.targets.forEach(function (token) {
        var p = lensData.target_p[token], best = 0;
        for (var i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
        var text = visible(file.raw.tokens[token]) + " \u2014 best " + percent(p[best]) + " (layer " +
          Math.floor(best / positions) + ", position " + (best % positions) + ")";
        targetSelect.appendChild(el("option", { value: String(token) }, text));
      });
      if (state.target !== "answer" && !(state.target in lensData.target_p)) state.target = "answer";
      targetSelect.value = String(state.target);
    }

    function buildGrid() {
      var raw = file.raw, positions = raw.positions;
      grid.textContent = "";
      grid.setAttribute("aria-label", "lens grid: " + (raw.layers + 1) + " layers by " + positions + " positions");
      grid.style.setProperty("--ss-lens-columns", String(positions));
      cells = [];
      for (var layer = raw.layers; layer >= 0; layer--) {
        var row = el("div", { role: "row", "class": "ss-lens-line" });
        row.appendChild(el("div", { role: "rowheader", "class": "ss-lens-layer" }, String(layer)));
        for (var position = 0; position < positions; position++) {
          var cell = el("div", {
            role: "gridcell", tabindex: "-1", "class": "ss-lens-cell",
            "data-layer": String(layer), "data-position": String(position)
          });
          cells[at(layer, position)] = cell;
          row.appendChild(cell);
        }
        grid.appendChild(row);
      }
      var head = el("div", { role: "row", "class": "ss-lens-line ss-lens-inputs" });
      head.appendChild(el("div", { role: "columnheader", "class": "ss-lens-layer", title: "layer" }, "layer"));
      raw.inputs.forEach(function (token) {
        head.appendChild(el("div", { role: "columnheader", "class": "ss-lens-input", title: visible(raw.tokens[token]) },
          visible(raw.tokens[token])));
      });
      grid.appendChild(head);
    }

    function paint() {
      var top = index.top;
      for (var i = 0; i < cells.length; i++) {
        var cell = cells[i], v = shade(i);
        cell.textContent = visible(file.raw.tokens[lensData.top[i * top]]);
        cell.style.setProperty("--v", v.toFixed(4));
        cell.classList.toggle("ss-lens-strong", v >= STRONG);
      }
      targetSelect.disabled = state.mode !== "probability";
      targetRow.classList.toggle("ss-lens-off", targetSelect.disabled);
      drawScale();
      show(state.layer, state.position, false);
    }

    function show(layer, position, focus) {
      var raw = file.raw, i = at(layer, position), top = index.top;
      var old = cells[at(state.layer, state.position)];
      if (old) { old.setAttribute("tabindex", "-1"); old.removeAttribute("aria-selected"); }
      state.layer = layer;
      state.position = position;
      var cell = cells[i];
      cell.setAttribute("tabindex", "0");
      cell.setAttribute("aria-selected", "true");
      if (focus) cell.focus();
      ["prompt", "lens", "mode", "target", "layer", "position"].forEach(function (k) {
        root.setAttribute("data-" + k, k === "prompt" ? raw.label : String(state[k]));
      });
      var answer = raw.tokens[raw.answers[position]];
      where.textContent = "Layer " + layer + " of " + raw.layers + " \u00b7 position " + position + ", after " +
        quoted(raw.tokens[raw.inputs[position]]) + " \u00b7 " + state.lens + " lens \u00b7 top " + top + ":";
      topList.textContent = "";
      for (var k = 0; k < top; k++) {
        var item = el("li", {});
        item.appendChild(el("span", { "class": "ss-lens-tok" }, visible(raw.tokens[lensData.top[i * top + k]])));
        item.appendChild(el("span", { "class": "ss-lens-p" }, percent(lensData.top_p[i * top + k])));
        topList.appendChild(item);
      }
      var pText = percent(targetGrid()[i]), rankText = thousands(lensData.answer_rank[i]);
      var hText = bits(lensData.entropy[i]);
      var targetName = state.target === "answer" ? answer : raw.tokens[state.target];
      if (state.mode === "probability") {
        valueLabel.textContent = "probability of " + quoted(targetName) + (state.target === "answer" ? " (the final answer here)" : "");
        value.textContent = pText;
      } else if (state.mode === "rank") {
        valueLabel.textContent = "rank of the final answer " + quoted(answer);
        value.textContent = rankText;
      } else {
        valueLabel.textContent = "entropy";
        value.textContent = hText;
      }
      others.textContent = "final answer here " + quoted(answer) + ": probability " + percent(lensData.answer_p[i]) +
        ", rank " + rankText + " \u00b7 entropy " + hText;
    }

    function useLens(name) {
      state.lens = name;
      lensData = file.lenses[name];
      lensRadios.inputs[name].checked = true;
      fillTargets();
      paint();
    }

    function load(i) {
      var entry = index.prompts[i];
      root.setAttribute("aria-busy", "true");
      var got = files[entry.src] ? Promise.resolve(files[entry.src]) : fetch(base + entry.src)
        .then(function (r) {
          if (!r.ok) throw new Error(r.status + " " + r.statusText);
          return r.json();
        })
        .then(function (raw) { files[entry.src] = prepare(raw); return files[entry.src]; });
      return got.then(function (prepared) {
        file = prepared;
        state.prompt = i;
        state.target = "answer";
        state.layer = Math.min(state.layer, file.raw.layers);
        state.position = Math.min(state.position, file.raw.positions - 1);
        buildGrid();
        useLens(state.lens);
        root.removeAttribute("aria-busy");
      });
    }

    var base = root.getAttribute("data-src").split(/\s+/)[0].replace(/[^/]*$/, "");
    files[index.prompts[0].src] = prepare(index);

    /* ---- events ---- */
    promptSelect.addEventListener("change", function () {
      load(parseInt(promptSelect.value, 10)).catch(fail);
    });
    index.lens_names.forEach(function (name) {
      lensRadios.inputs[name].addEventListener("change", function () { useLens(name); });
    });
    Object.keys(MODES).forEach(function (mode) {
      modeRadios.inputs[mode].addEventListener("change", function () { state.mode = mode; paint(); });
    });
    targetSelect.addEventListener("change", function () {
      state.target = targetSelect.value === "answer" ? "answer" : parseInt(targetSelect.value, 10);
      paint();
    });

    function cellOf(event) {
      var cell = event.target.closest ? event.target.closest(".ss-lens-cell") : null;
      return cell && grid.contains(cell) ? cell : null;
    }

    // a mouse that moves over a cell shows it (not one that the page scrolls under the
    // pointer, nor a finger scrolling the grid: a tap is a click)
    grid.addEventListener("pointermove", function (event) {
      if (event.pointerType !== "mouse") return;
      var cell = cellOf(event);
      if (!cell || cell.getAttribute("aria-selected") === "true") return;
      // while the grid has the keyboard's focus, it follows the mouse: one current cell
      show(+cell.getAttribute("data-layer"), +cell.getAttribute("data-position"), grid.contains(document.activeElement));
    });
    grid.addEventListener("click", function (event) {
      var cell = cellOf(event);
      if (cell) show(+cell.getAttribute("data-layer"), +cell.getAttribute("data-position"), true);
    });
    grid.addEventListener("keydown", function (event) {
      var layer = state.layer, position = state.position, raw = file.raw;
      switch (event.key) {
        case "ArrowUp": layer = Math.min(raw.layers, layer + 1); break;
        case "ArrowDown": layer = Math.max(0, layer - 1); break;
        case "ArrowLeft": position = Math.max(0, position - 1); break;
        case "ArrowRight": position = Math.min(raw.positions - 1, position + 1); break;
        case "Home": position = 0; break;
        case "End": position = raw.positions - 1; break;
        case "PageUp": layer = raw.layers; break;
        case "PageDown": layer = 0; break;
        default: return;
      }
      event.preventDefault();
      show(layer, position, true);
    });

    function fail(error) {
      root.removeAttribute("aria-busy");
      readout.textContent = "Could not load the lens data: " + error.message;
    }

    modeRadios.inputs[state.mode].checked = true;
    // start at the last position of the top layer: the model's own prediction for the prompt
    state.layer = Infinity;
    state.position = Infinity;
    return load(0).then(function () { root.setAttribute("data-ready", "true"); });
  }

  function start() {
    var root = document.getElementById("ss-lens");
    if (!root) return;
    function open() {
      fetch(root.getAttribute("data-src").split(/\s+/)[0])
        .then(function (r) {
          if (!r.ok) throw new Error(r.status + " " + r.statusText);
          return r.json();
        })
        .then(function (index) { return init(root, index); })
        .catch(function (error) { root.textContent = "Could not load the lens data: " + error.message; });
    }
    if (!("IntersectionObserver" in window)) { open(); return; }
    // the data are loaded only when the view comes near the screen
    var observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) {
        observer.disconnect();
        open();
      }
    }, { rootMargin: "400px 0px" });
    observer.observe(root);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

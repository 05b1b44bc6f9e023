/* The sampling explorer: the model's real next-token logits, reshaped in the browser.

   The numbers here are the same as snippets/explorer.py `view` computes on the same data
   (data/explorer.json), with the samplers of snippets/sampling.py. A setting is written as
   `Samplers.to_json` writes it ({temperature, top_k, top_p, min_p}, null: not used): the data
   file gives the sliders' starting values so, and the page shows its current setting so in
   the explorer's data-samplers attribute. A test drives this page in Chromium and compares
   what it displays with Python. Plain JavaScript, no requests beyond the page's own data
   file. */
(function () {
  "use strict";

  var SHOWN = 12; // bars drawn for the best named tokens

  /* ---- the samplers, as in snippets/sampling.py (logits sorted highest first) ---- */

  // One logit per vocabulary token, highest first: the named tokens, then the tail bins.
  function expand(entry) {
    var size = entry.logits.length;
    entry.tail.forEach(function (bin) { size += bin[1]; });
    var z = new Float64Array(size);
    var i = 0;
    entry.logits.forEach(function (v) { z[i++] = v; });
    entry.tail.forEach(function (bin) {
      for (var c = 0; c < bin[1]; c++) z[i++] = bin[0];
    });
    return z;
  }

  function softmax(w) {
    var m = -Infinity, i, sum = 0, p = new Float64Array(w.length);
    for (i = 0; i < w.length; i++) if (w[i] > m) m = w[i];
    for (i = 0; i < w.length; i++) { p[i] = Math.exp(w[i] - m); sum += p[i]; }
    for (i = 0; i < w.length; i++) p[i] /= sum;
    return p;
  }

  function divide(w, t) {
    var out = new Float64Array(w.length);
    for (var i = 0; i < w.length; i++) out[i] = w[i] / t;
    return out;
  }

  // Keep the k highest (and ties with the k-th). w is sorted, so the k-th is w[k - 1].
  function topK(w, k) {
    var kth = w[Math.min(k, w.length) - 1];
    for (var i = 0; i < w.length; i++) if (w[i] < kth) w[i] = -Infinity;
  }

  // Drop the least likely tokens while together they hold at most 1 - p; keep the top one.
  function topP(w, p) {
    var q = softmax(w), tail = 0;
    for (var i = w.length - 1; i > 0; i--) {
      tail += q[i];
      if (tail <= 1 - p) w[i] = -Infinity;
    }
  }

  // Keep a token only if its probability is at least pBase times the top token's.
  function minP(w, pBase) {
    var q = softmax(w), top = 0, i;
    for (i = 0; i < q.length; i++) if (q[i] > top) top = q[i];
    for (i = 0; i < w.length; i++) if (q[i] < pBase * top) w[i] = -Infinity;
  }

  function cut(w, s) {
    if (s.top_k !== null) topK(w, s.top_k);
    if (s.top_p !== null) topP(w, s.top_p);
    if (s.min_p !== null) minP(w, s.min_p);
  }

  function warp(z, s, temperatureLast) {
    var w;
    if (temperatureLast) {
      w = divide(z, 1);
      cut(w, s);
      return divide(w, s.temperature);
    }
    w = divide(z, s.temperature);
    cut(w, s);
    return w;
  }

  function view(z, s, temperatureLast) {
    var w = warp(z, s, temperatureLast), m = -Infinity, i, sum = 0, survivors = 0;
    var alive = new Uint8Array(w.length);
    for (i = 0; i < w.length; i++) {
      if (w[i] > m) m = w[i];
      if (w[i] !== -Infinity) { survivors++; alive[i] = 1; }
    }
    for (i = 0; i < w.length; i++) sum += Math.exp(w[i] - m);
    var logSum = Math.log(sum), entropy = 0, p = new Float64Array(w.length);
    for (i = 0; i < w.length; i++) {
      var logP = w[i] - m - logSum;
      p[i] = Math.exp(logP);
      if (p[i] > 0) entropy -= p[i] * logP;
    }
    return { entropy: entropy / Math.LN2, survivors: survivors, p: p, alive: alive };
  }

  function draw(p) {
    var u = Math.random(), c = 0;
    for (var i = 0; i < p.length; i++) {
      c += p[i];
      if (u < c) return i;
    }
    // rounding left u just above the total: take the last token that can be drawn
    i = p.length - 1;
    while (p[i] === 0) i--;
    return i;
  }

  /* ---- the page ---- */

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function visible(token) { return token.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5"); }

  function percent(x) { return (100 * x).toFixed(2) + " %"; }

  // A slider row: an on/off box whose label toggles it (for a sampler), the slider, a field to
  // type the value in, and a line for what was wrong with a typed value. The <output> holds the
  // value in force, for screen readers (the typed field shows it on screen).
  function slider(name, label, min, max, step, value, optional) {
    var row = el("div", { "class": "ss-ex-control" });
    var head, box = null;
    if (optional) {
      head = el("label", { "class": "ss-ex-switch" });
      box = el("input", { type: "checkbox", id: "ss-ex-" + name + "-on" });
      head.appendChild(box);
      head.appendChild(document.createTextNode(label));
    } else {
      head = el("label", { "for": "ss-ex-" + name }, label);
    }
    var input = el("input", { type: "range", id: "ss-ex-" + name, min: min, max: max, step: step,
      "aria-label": label });
    input.value = value;
    var typed = el("input", { type: "text", inputmode: "decimal", id: "ss-ex-" + name + "-typed",
      "class": "ss-ex-typed", "aria-label": label + ", typed (" + min + " to " + max + ")",
      autocomplete: "off", spellcheck: "false" });
    var out = el("output", { id: "ss-ex-" + name + "-value", "for": "ss-ex-" + name, "class": "ss-ex-sr" });
    var error = el("p", { id: "ss-ex-" + name + "-error", "class": "ss-ex-error", "aria-live": "polite" });
    [head, input, typed, out, error].forEach(function (node) { row.appendChild(node); });
    return { row: row, input: input, box: box, out: out, typed: typed, error: error, label: label };
  }

  // A typed value goes through the slider itself, so it is clamped to the slider's range and
  // rounded to its step just as a drag would be; the message says what became of it.
  function applyTyped(c) {
    var text = c.typed.value.trim().replace(",", "."), min = c.input.min, max = c.input.max;
    var wanted = text === "" ? NaN : Number(text);
    if (!isFinite(wanted)) {
      c.error.textContent = c.label + " takes a number from " + min + " to " + max + ": \u201c" +
        c.typed.value + "\u201d is not one; kept " + c.input.value + ".";
      c.typed.value = c.input.value;
      return false;
    }
    c.input.value = String(wanted);
    var got = parseFloat(c.input.value);
    c.error.textContent = got === wanted ? "" : c.label + " runs from " + min + " to " + max +
      " in steps of " + c.input.step + ": " + text + " became " + c.input.value + ".";
    return true;
  }

  // A vertical swipe that starts on a slider scrolls the page (touch-action: pan-y in the CSS);
  // if the touch already moved the slider (or switched its sampler on), that is put back.
  function keepOnVerticalSwipe(c, changed) {
    var input = c.input, x = 0, y = 0, before = null, wasOn = false;
    input.addEventListener("touchstart", function (e) {
      x = e.touches[0].clientX; y = e.touches[0].clientY; before = input.value;
      wasOn = !c.box || c.box.checked;
    }, { passive: true });
    function settle(e) {
      var t = e.changedTouches[0];
      if (before !== null && Math.abs(t.clientY - y) > Math.abs(t.clientX - x)) {
        input.value = before;
        if (c.box) c.box.checked = wasOn;
        changed();
      }
      before = null;
    }
    input.addEventListener("touchend", settle);
    input.addEventListener("touchcancel", settle);
  }

  function init(root, data) {
    var select = el("select", { id: "ss-ex-prompt", "aria-label": "prompt" });
    data.prompts.forEach(function (entry, i) {
      select.appendChild(el("option", { value: String(i) }, entry.label + ": \u201c" + entry.prompt + "\u201d"));
    });
    var start = data.samplers;
    var controls = {
      temperature: slider("temperature", "temperature", "0.05", "3", "0.05", start.temperature, false),
      top_k: slider("k", "top-k", "1", String(data.top), "1", start.top_k, true),
      top_p: slider("p", "top-p", "0.01", "1", "0.01", start.top_p, true),
      min_p: slider("min-p", "min-p", "0.01", "1", "0.01", start.min_p, true)
    };
    var last = el("input", { type: "checkbox", id: "ss-ex-last" });
    var lastLabel = el("label", {});
    lastLabel.appendChild(last);
    lastLabel.appendChild(document.createTextNode("temperature after the cuts (not what transformers does)"));
    var lastRow = el("div", { "class": "ss-ex-order" });
    lastRow.appendChild(lastLabel);

    var stats = el("div", { "class": "ss-ex-stats", "aria-live": "polite" });
    var entropy = el("span", { id: "ss-ex-entropy" });
    var survivors = el("span", { id: "ss-ex-survivors" });
    stats.appendChild(el("span", {}, "entropy "));
    stats.appendChild(entropy);
    stats.appendChild(el("span", {}, " \u00b7 tokens that can be drawn "));
    stats.appendChild(survivors);
    var bars = el("div", { "class": "ss-ex-bars", id: "ss-ex-bars" });
    var button = el("button", { type: "button", id: "ss-ex-draw", "class": "md-button md-button--primary" },
      "Draw a token");
    var drawn = el("div", { "class": "ss-ex-drawn", id: "ss-ex-drawn", "aria-live": "polite" });

    var panel = el("div", { "class": "ss-ex-controls" });
    panel.appendChild(select);
    Object.keys(controls).forEach(function (key) { panel.appendChild(controls[key].row); });
    panel.appendChild(lastRow);
    root.textContent = "";
    [panel, stats, bars, button, drawn].forEach(function (node) { root.appendChild(node); });

    var z = null, current = null, entry = null;

    function settings() {
      function value(key, parse) {
        var c = controls[key];
        return c.box && !c.box.checked ? null : parse(c.input.value);
      }
      return {
        temperature: parseFloat(controls.temperature.input.value),
        top_k: value("top_k", function (v) { return parseInt(v, 10); }),
        top_p: value("top_p", parseFloat),
        min_p: value("min_p", parseFloat)
      };
    }

    function render() {
      var s = settings();
      root.setAttribute("data-samplers", JSON.stringify(s));
      Object.keys(controls).forEach(function (key) {
        var c = controls[key];
        c.out.textContent = c.input.value;
        if (document.activeElement !== c.typed) c.typed.value = c.input.value;
        c.row.classList.toggle("ss-ex-off", !!c.box && !c.box.checked);
      });
      current = view(z, s, last.checked);
      entropy.textContent = current.entropy.toFixed(3) + " bits";
      survivors.textContent = current.survivors.toLocaleString("en-US") + " of " + z.length.toLocaleString("en-US");
      bars.textContent = "";
      var others = current.survivors;
      for (var i = 0; i < SHOWN; i++) {
        if (current.alive[i]) others--;
        bars.appendChild(bar(i));
      }
      bars.appendChild(restBar(others));
    }

    function bar(i) {
      var alive = current.alive[i];
      var row = el("div", { "class": "ss-ex-bar" + (alive ? "" : " ss-ex-cut"), "data-rank": String(i + 1) });
      row.appendChild(el("span", { "class": "ss-ex-token" }, visible(entry.tokens[i])));
      var track = el("span", { "class": "ss-ex-track" });
      var fill = el("span", { "class": "ss-ex-fill" });
      fill.style.width = (100 * current.p[i]).toFixed(2) + "%";
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", { "class": "ss-ex-p" }, alive ? percent(current.p[i]) : "cut"));
      return row;
    }

    function restBar(count) {
      var row = el("div", { "class": "ss-ex-bar ss-ex-rest", id: "ss-ex-rest" });
      row.appendChild(el("span", { "class": "ss-ex-token" }, count.toLocaleString("en-US") + " others"));
      var track = el("span", { "class": "ss-ex-track" });
      var fill = el("span", { "class": "ss-ex-fill" });
      var mass = 0;
      for (var i = SHOWN; i < current.p.length; i++) mass += current.p[i];
      fill.style.width = (100 * mass).toFixed(2) + "%";
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", { "class": "ss-ex-p" }, percent(mass)));
      return row;
    }

    function choose() {
      entry = data.prompts[parseInt(select.value, 10)];
      z = expand(entry);
      drawn.textContent = "";
      render();
    }

    select.addEventListener("change", choose);
    Object.keys(controls).forEach(function (key) {
      var c = controls[key];
      // moving or typing a switched-off sampler's value switches it on
      function switchOn() { if (c.box) c.box.checked = true; }
      c.input.addEventListener("input", function () { switchOn(); c.error.textContent = ""; render(); });
      c.typed.addEventListener("change", function () {
        if (applyTyped(c)) switchOn();
        render();
      });
      c.typed.addEventListener("keydown", function (e) { if (e.key === "Enter") c.typed.blur(); });
      c.typed.addEventListener("blur", function () { c.typed.value = c.input.value; });
      keepOnVerticalSwipe(c, render);
      if (c.box) c.box.addEventListener("change", render);
    });
    last.addEventListener("change", render);
    button.addEventListener("click", function () {
      var i = draw(current.p);
      var text = i < entry.logits.length ? "\u201c" + visible(entry.tokens[i]) + "\u201d"
        : "an unnamed token from the tail (rank " + (i + 1).toLocaleString("en-US") + ")";
      var line = el("div", { "class": "ss-ex-draw", "data-rank": String(i + 1) },
        "drew " + text + ", probability " + percent(current.p[i]));
      drawn.insertBefore(line, drawn.firstChild);
      while (drawn.childNodes.length > 5) drawn.removeChild(drawn.lastChild);
    });
    choose();
    root.setAttribute("data-ready", "true");
  }

  function start() {
    var root = document.getElementById("ss-explorer");
    if (!root) return;
    fetch(root.getAttribute("data-src"))
      .then(function (r) {
        if (!r.ok) throw new Error(r.status + " " + r.statusText);
        return r.json();
      })
      .then(function (data) { init(root, data); })
      .catch(function (error) { root.textContent = "Could not load the explorer's data: " + error.message; });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

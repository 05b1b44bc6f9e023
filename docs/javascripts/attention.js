/* The attention viewer (docs/attention.md): every layer's and head's attention weights on the
   build's texts, read from data/attention-<text>.json (written by snippets/attention_figures.py).

   A text's file stores, for each layer, head and query position q, the weights on key
   positions 0…q as round(weight × scale) in one byte each (base64): row q of head h of layer l
   starts at ((l × heads + h) × n(n+1)/2 + q(q+1)/2). Rows are query positions, columns key
   positions; cells above the diagonal are positions a query never reads (masked). The colour
   scale runs from 0 to 1. A test drives this page in Chromium and checks the readout against
   transformers' `output_attentions=True`. Plain JavaScript; no request beyond the site's own
   data files, each fetched when its text is first chosen. */
(function () {
  "use strict";

  var LIGHT = [[232, 241, 250], [107, 174, 214], [8, 48, 107]];
  var DARK = [[44, 50, 72], [59, 127, 182], [214, 236, 255]];

  function dark() {
    return document.body.getAttribute("data-md-color-scheme") === "slate";
  }

  function rgb(stops, w) {
    var x = Math.max(0, Math.min(1, w)) * 2, i = Math.min(1, Math.floor(x)), f = x - i;
    var a = stops[i], b = stops[i + 1];
    return "rgb(" + [0, 1, 2].map(function (c) {
      return Math.round(a[c] + (b[c] - a[c]) * f);
    }).join(",") + ")";
  }

  function show(token) {
    return token.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5");
  }

  /* ---- one text's weights ---- */
  function Weights(entry) {
    var raw = atob(entry.weights), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    var n = entry.tokens.length, tri = n * (n + 1) / 2;
    this.entry = entry;
    this.n = n;
    this.at = function (layer, head, q, k) {
      if (k > q) return 0;
      return bytes[(layer * entry.heads + head) * tri + q * (q + 1) / 2 + k] / entry.scale;
    };
  }

  // head < 0: the mean over heads
  Weights.prototype.weight = function (layer, head, q, k) {
    if (head >= 0) return this.at(layer, head, q, k);
    var sum = 0;
    for (var h = 0; h < this.entry.heads; h++) sum += this.at(layer, h, q, k);
    return sum / this.entry.heads;
  };

  /* ---- drawing ---- */
  function geometry(canvas, weights, width) {
    var ctx = canvas.getContext("2d"), longest = 0;
    ctx.font = "12px sans-serif";
    weights.entry.tokens.forEach(function (t, i) {
      longest = Math.max(longest, ctx.measureText(show(t) + " " + i).width);
    });
    var label = Math.min(120, Math.ceil(longest) + 8);
    var cell = Math.max(14, Math.min(24, Math.floor((width - label - 4) / weights.n)));
    return { label: label, cell: cell, size: label + cell * weights.n + 4 };
  }

  function fit(text, ctx, room) {
    if (ctx.measureText(text).width <= room) return text;
    while (text.length > 1 && ctx.measureText(text + "\u2026").width > room) text = text.slice(0, -1);
    return text + "\u2026";
  }

  function drawHeatmap(canvas, weights, view, g) {
    var ratio = window.devicePixelRatio || 1, n = weights.n, stops = dark() ? DARK : LIGHT;
    canvas.width = g.size * ratio;
    canvas.height = g.size * ratio;
    canvas.style.width = g.size + "px";
    canvas.style.height = g.size + "px";
    var ctx = canvas.getContext("2d"), ink = getComputedStyle(canvas).color;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, g.size, g.size);
    for (var q = 0; q < n; q++) {
      for (var k = 0; k <= q; k++) {  // above the diagonal: left blank
        ctx.fillStyle = rgb(stops, weights.weight(view.layer, view.head, q, k));
        ctx.fillRect(g.label + k * g.cell, g.label + q * g.cell, g.cell - 1, g.cell - 1);
      }
    }
    ctx.font = "12px sans-serif";
    ctx.fillStyle = ink;
    ctx.textBaseline = "middle";
    weights.entry.tokens.forEach(function (t, i) {
      var text = fit(show(t), ctx, g.label - 8), mid = g.label + i * g.cell + g.cell / 2;
      ctx.textAlign = "right";
      ctx.fillText(text, g.label - 4, mid);  // the query, on its row
      ctx.save();
      ctx.translate(mid, g.label - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left";
      ctx.fillText(text, 0, 0);  // the key, up its column
      ctx.restore();
    });
    ctx.strokeStyle = getComputedStyle(canvas).getPropertyValue("--md-accent-fg-color") || "#ff6e42";
    ctx.lineWidth = 2;
    ctx.strokeRect(g.label + view.key * g.cell - 1, g.label + view.query * g.cell - 1,
      g.cell + 1, g.cell + 1);
  }

  function drawThumbnail(canvas, weights, layer, head) {
    var n = weights.n, px = Math.max(1, Math.floor(72 / n)), stops = dark() ? DARK : LIGHT;
    canvas.width = n * px;
    canvas.height = n * px;
    var ctx = canvas.getContext("2d");
    for (var q = 0; q < n; q++) {
      for (var k = 0; k <= q; k++) {
        ctx.fillStyle = rgb(stops, weights.weight(layer, head, q, k));
        ctx.fillRect(k * px, q * px, px, px);
      }
    }
  }

  /* ---- the widget ---- */
  function element(tag, attributes, text) {
    var e = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (a) { e.setAttribute(a, attributes[a]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function labelled(text, control) {
    var wrap = element("label", { class: "ss-at-field" });
    wrap.appendChild(element("span", {}, text));
    wrap.appendChild(control);
    return wrap;
  }

  function Viewer(root, index, base) {
    this.root = root;
    this.index = index;
    this.base = base;
    this.cache = {};
    var start = root.dataset;
    this.view = {
      label: start.view || index.views[0].label,
      layer: +(start.layer || 0),
      head: start.head === undefined ? -1 : +start.head,
      query: 0,
      key: 0,
    };
    this.build();
  }

  Viewer.prototype.build = function () {
    var self = this, root = this.root;
    root.innerHTML = "";
    var controls = element("div", { class: "ss-at-controls" });
    this.text = element("select", { "aria-label": "text" });
    this.index.views.forEach(function (v) {
      self.text.appendChild(element("option", { value: v.label }, v.title));
    });
    this.layer = element("select", { "aria-label": "layer" });
    for (var l = 0; l < this.index.layers; l++) {
      this.layer.appendChild(element("option", { value: l }, "layer " + l));
    }
    this.head = element("select", { "aria-label": "head" });
    controls.appendChild(labelled("Text", this.text));
    controls.appendChild(labelled("Layer", this.layer));
    controls.appendChild(labelled("Head", this.head));
    root.appendChild(controls);
    this.readout = element("p", { class: "ss-at-readout", "aria-live": "polite" });
    root.appendChild(this.readout);
    var scroller = element("div", { class: "ss-at-scroll" });
    this.canvas = element("canvas", {
      class: "ss-at-map", tabindex: "0", role: "img",
      "aria-describedby": "ss-at-help",
    });
    scroller.appendChild(this.canvas);
    root.appendChild(scroller);
    root.appendChild(element("p", { class: "ss-at-help", id: "ss-at-help" },
      "Rows: the query position that reads; columns: the key position it reads. Hover or tap " +
      "a cell, or focus the map and use the arrow keys (Home: first key, End: the query itself)."));
    var bar = element("div", { class: "ss-at-bar" });
    bar.appendChild(element("span", { class: "ss-at-gradient" }));
    bar.appendChild(element("span", { class: "ss-at-ticks" }, ""));
    ["0", "0.25", "0.5", "0.75", "1"].forEach(function (t) {
      bar.lastChild.appendChild(element("span", {}, t));
    });
    bar.appendChild(element("span", { class: "ss-at-bar-label" },
      "attention weight: 0 to 1, each row sums to 1; blank: a later position, never read"));
    root.appendChild(bar);
    root.appendChild(element("p", { class: "ss-at-heads-title" },
      "Every head of this layer (tap one to show it above):"));
    this.heads = element("div", { class: "ss-at-heads" });
    root.appendChild(this.heads);
    this.listen();
    this.load(this.view.label);
  };

  Viewer.prototype.listen = function () {
    var self = this;
    this.text.addEventListener("change", function () { self.load(self.text.value); });
    this.layer.addEventListener("change", function () {
      self.view.layer = +self.layer.value;
      self.render();
    });
    this.head.addEventListener("change", function () {
      self.view.head = +self.head.value;
      self.render();
    });
    this.canvas.addEventListener("mousemove", function (e) { self.pick(e); });
    this.canvas.addEventListener("click", function (e) { self.pick(e); });
    this.canvas.addEventListener("keydown", function (e) { self.key(e); });
    new MutationObserver(function () { if (self.weights) self.render(); })
      .observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
    window.addEventListener("resize", function () { if (self.weights) self.render(); });
  };

  Viewer.prototype.load = function (label) {
    var self = this, entry = this.index.views.filter(function (v) { return v.label === label; })[0];
    this.view.label = label;
    this.text.value = label;
    if (this.cache[label]) return this.show(this.cache[label]);
    this.readout.textContent = "Loading " + entry.title + "…";
    fetch(this.base + entry.src)
      .then(function (r) { return r.json(); })
      .then(function (data) {
        self.cache[label] = new Weights(data);
        if (self.view.label === label) self.show(self.cache[label]);
      })
      .catch(function (error) { self.readout.textContent = "Could not load " + entry.src + ": " + error; });
  };

  Viewer.prototype.show = function (weights) {
    var self = this, entry = weights.entry;
    this.weights = weights;
    this.head.innerHTML = "";
    this.head.appendChild(element("option", { value: -1 }, "mean over heads"));
    entry.groups.forEach(function (g, h) {
      self.head.appendChild(element("option", { value: h }, "head " + h + " (key/value head " + g + ")"));
    });
    // start on the last position and the key it reads most
    var v = this.view, best = 0;
    v.query = weights.n - 1;
    for (var k = 0; k <= v.query; k++) {
      if (weights.weight(v.layer, v.head, v.query, k) > weights.weight(v.layer, v.head, v.query, best)) best = k;
    }
    v.key = best;
    this.render();
  };

  Viewer.prototype.render = function () {
    var v = this.view, w = this.weights;
    this.layer.value = v.layer;
    this.head.value = v.head;
    this.geometry = geometry(this.canvas, w, this.root.clientWidth);
    drawHeatmap(this.canvas, w, v, this.geometry);
    this.canvas.dataset.label = this.geometry.label;
    this.canvas.dataset.cell = this.geometry.cell;
    this.canvas.setAttribute("aria-label", "Attention weights of " +
      (v.head < 0 ? "the mean over heads" : "head " + v.head) + " at layer " + v.layer +
      ", " + w.n + " positions");
    this.renderHeads();
    this.describe();
    this.root.dataset.ready = "true";
  };

  Viewer.prototype.renderHeads = function () {
    var self = this, w = this.weights, v = this.view;
    this.heads.innerHTML = "";
    var groups = {};
    w.entry.groups.forEach(function (g, h) { (groups[g] = groups[g] || []).push(h); });
    Object.keys(groups).forEach(function (g) {
      var box = element("div", { class: "ss-at-group" });
      box.style.gridTemplateColumns = "repeat(" + groups[g].length + ", auto)";
      box.appendChild(element("span", { class: "ss-at-group-label" }, "key/value head " + g));
      groups[g].forEach(function (h) {
        box.appendChild(self.thumbnail(h, "head " + h));
      });
      self.heads.appendChild(box);
    });
    var mean = element("div", { class: "ss-at-group" });
    mean.appendChild(element("span", { class: "ss-at-group-label" }, "all heads"));
    mean.appendChild(this.thumbnail(-1, "mean"));
    this.heads.appendChild(mean);
    this.heads.querySelectorAll("button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(+b.dataset.head === v.head));
    });
  };

  Viewer.prototype.thumbnail = function (head, caption) {
    var self = this, button = element("button", { type: "button", "data-head": head });
    var canvas = element("canvas", { "aria-hidden": "true" });
    drawThumbnail(canvas, this.weights, this.view.layer, head);
    button.appendChild(canvas);
    button.appendChild(element("span", {}, caption));
    button.addEventListener("click", function () {
      self.view.head = head;
      self.render();
    });
    return button;
  };

  Viewer.prototype.describe = function () {
    var v = this.view, w = this.weights, tokens = w.entry.tokens;
    var value = w.weight(v.layer, v.head, v.query, v.key);
    var who = v.head < 0 ? "mean over heads" : "head " + v.head + " (key/value head " + w.entry.groups[v.head] + ")";
    this.readout.textContent = "Layer " + v.layer + ", " + who + ": query \u201c" + show(tokens[v.query]) +
      "\u201d (position " + v.query + ") reads key \u201c" + show(tokens[v.key]) + "\u201d (position " +
      v.key + ") with weight " + value.toFixed(3) + ".";
    var d = this.root.dataset;
    d.current = [v.label, v.layer, v.head, v.query, v.key].join(" ");
    d.weight = value.toFixed(3);
  };

  Viewer.prototype.pick = function (event) {
    var g = this.geometry, box = this.canvas.getBoundingClientRect();
    var k = Math.floor((event.clientX - box.left - g.label) / g.cell);
    var q = Math.floor((event.clientY - box.top - g.label) / g.cell);
    if (q < 0 || k < 0 || q >= this.weights.n || k > q) return;
    if (q === this.view.query && k === this.view.key) return;
    this.view.query = q;
    this.view.key = k;
    this.render();
  };

  Viewer.prototype.key = function (event) {
    var v = this.view, last = this.weights.n - 1;
    var moves = {
      ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1],
      Home: [0, -last], End: [0, last],
    };
    var move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    v.query = Math.max(0, Math.min(last, v.query + move[0]));
    v.key = Math.max(0, Math.min(v.query, v.key + move[1]));
    this.render();
  };

  document.querySelectorAll(".ss-attention[data-src]").forEach(function (root) {
    var src = root.getAttribute("data-src"), base = src.slice(0, src.lastIndexOf("/") + 1);
    fetch(src)
      .then(function (r) { return r.json(); })
      .then(function (index) {
        if (index.computing) {  // a fresh `mkdocs serve` computes it in the background
          root.textContent = "Still computing " + index.computing + ": this page reloads by itself when it is ready.";
          return;
        }
        new Viewer(root, index, base);
      })
      .catch(function (error) {
        root.textContent = "The attention viewer could not load " + src + ": " + error;
      });
  });
})();

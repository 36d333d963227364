/* 家园 one screen (一屏): the live stream.

   Opens an EventSource on <main id="screen" data-live-url>, starting from the cursor the
   page was drawn at (json_script #screen-live-cursor, sent as ?since=); the server ends
   each stream after about a minute and the browser reconnects by itself with
   Last-Event-ID, so nothing is lost or shown twice.

   For each event: a line in the ticker (newest first, at most MAX_ROWS: time, kind,
   text — all as text nodes), the map updated through window.JiayuanScreenMap (a new
   alarm's marker flashes), and document.dispatchEvent(new CustomEvent("jiayuan:live",
   {detail: event})) for the screen's panels to refresh their numbers. */
(function () {
  "use strict";

  var MAX_ROWS = 20;
  var STATES = { connecting: "连接中…", open: "实时", closed: "已断开，稍后重连" };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function Live(root) {
    this.root = root;
    this.ticker = document.querySelector("[data-live-ticker]");
    this.empty = document.querySelector("[data-live-empty]");
    this.state = document.querySelector("[data-live-state]");
    this.received = 0;
    var cursor = document.getElementById("screen-live-cursor");
    var url = root.getAttribute("data-live-url");
    if (!url) { this.setState("closed"); return; }
    var since = cursor ? JSON.parse(cursor.textContent) : "";
    if (since) { url += (url.indexOf("?") === -1 ? "?" : "&") + "since=" + encodeURIComponent(since); }
    this.open(url);
  }

  Live.prototype.setState = function (state) {
    if (!this.state) { return; }
    this.state.setAttribute("data-live-state", state);
    this.state.textContent = STATES[state] || state;
  };

  Live.prototype.open = function (url) {
    var self = this;
    this.setState("connecting");
    this.source = new EventSource(url, { withCredentials: true });
    this.source.onopen = function () { self.setState("open"); };
    this.source.onerror = function () {
      // The server ends each stream on purpose; EventSource reconnects unless it gave up.
      self.setState(self.source.readyState === EventSource.CLOSED ? "closed" : "connecting");
    };
    this.source.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      self.handle(event);
    };
  };

  Live.prototype.handle = function (event) {
    this.received += 1;
    this.root.setAttribute("data-live-received", String(this.received));
    this.addRow(event);
    var screenMap = window.JiayuanScreenMap;
    if (screenMap) {
      if (event.kind === "alarm" && event.feature) { screenMap.addAlarm(event.feature); }
      if ((event.kind === "case" || event.kind === "step") && event.feature) { screenMap.addCase(event.feature); }
    }
    document.dispatchEvent(new CustomEvent("jiayuan:live", { detail: event }));
  };

  Live.prototype.addRow = function (event) {
    if (!this.ticker) { return; }
    var row = el("li", "jy-live-new");
    row.setAttribute("data-kind", event.kind || "");
    if (event.id !== undefined) { row.setAttribute("data-id", String(event.id)); }
    row.appendChild(el("time", "jy-live-time", event.at || ""));
    var kind = el("span", "jy-live-kind jy-live-kind-" + (event.kind || "other"), event.kind_label || event.kind || "");
    row.appendChild(kind);
    var text = event.text || "";
    if (event.severity_label) { text = event.severity_label + " · " + text; }
    else if (event.light_label && event.kind !== "mobilisation") { text = text + "（" + event.light_label + "）"; }
    row.appendChild(el("span", "jy-live-text", text));
    this.ticker.insertBefore(row, this.ticker.firstChild);
    while (this.ticker.children.length > MAX_ROWS) { this.ticker.removeChild(this.ticker.lastChild); }
    if (this.empty) { this.empty.hidden = true; }
  };

  function init() {
    var root = document.getElementById("screen");
    if (!root || typeof EventSource === "undefined") { return; }
    window.JiayuanLive = new Live(root);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

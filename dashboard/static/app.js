// viralwatch dashboard: draws the server-built plotly figures, shows times in the viewer's
// zone (or UTC), and refreshes charts and tables in place from the page's live URL.
(function () {
  "use strict";

  var pageData = JSON.parse(document.getElementById("page-data").textContent);
  var body = document.body;
  var refreshSeconds = Math.max(5, parseInt(body.dataset.refreshSeconds || "30", 10));
  var figures = pageData.figures || {};
  var zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  var mode = readMode();
  var refreshCount = 0;

  function readMode() {
    try {
      return window.localStorage.getItem("viralwatch.tz") === "utc" ? "utc" : "local";
    } catch (err) {
      return "local";
    }
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // "YYYY-MM-DD HH:MM:SS" in UTC -> the same format in the viewer's zone (or unchanged for UTC).
  function shift(text) {
    if (mode === "utc" || typeof text !== "string") return text;
    var m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?/.exec(text);
    if (!m) return text;
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)));
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function zoneLabel() {
    return mode === "utc" ? "UTC" : zoneName;
  }

  function localise(figure) {
    var data = (figure.data || []).map(function (trace) {
      var copy = Object.assign({}, trace);
      if (Array.isArray(trace.x)) copy.x = trace.x.map(shift);
      return copy;
    });
    var layout = JSON.parse(JSON.stringify(figure.layout || {}));
    if (layout.meta && layout.meta.time_axis) {
      layout.xaxis = layout.xaxis || {};
      layout.xaxis.title = { text: "time (" + zoneLabel() + ")" };
      if (window.innerWidth < 600) layout.xaxis.nticks = 4;
      (layout.shapes || []).forEach(function (s) {
        s.x0 = shift(s.x0);
        s.x1 = shift(s.x1);
      });
    }
    return { data: data, layout: layout };
  }

  var plotConfig = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage"],
  };

  function draw() {
    var pending = [];
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var figure = figures[el.dataset.figure];
      if (!figure) return;
      var local = localise(figure);
      pending.push(window.Plotly.react(el, local.data, local.layout, plotConfig));
    });
    return Promise.all(pending);
  }

  function formatTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return null;
    if (mode === "utc") return iso.slice(0, 16).replace("T", " ") + " UTC";
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function localiseTimes(root) {
    root.querySelectorAll("time[data-utc]").forEach(function (el) {
      if (!el.dataset.utc) return;
      var text = formatTime(el.dataset.utc);
      if (text) {
        el.textContent = text;
        el.title = el.dataset.utc;
      }
    });
  }

  function updateToggle() {
    var button = document.getElementById("tz-toggle");
    if (!button) return;
    button.textContent = mode === "utc" ? "Times: UTC" : "Times: " + zoneName;
    button.setAttribute("aria-pressed", mode === "utc" ? "true" : "false");
    body.dataset.tz = mode;
  }

  function stamp() {
    var now = new Date();
    var el = document.getElementById("refreshed");
    if (el) {
      el.textContent = "· checked " + pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" +
        pad(now.getSeconds());
    }
  }

  // A refreshed fragment must not fold up a list the reader has opened.
  function openDetails(root) {
    var open = {};
    root.querySelectorAll("details[data-keep-open]").forEach(function (el) {
      if (el.open) open[el.dataset.keepOpen] = true;
    });
    return open;
  }

  function reopenDetails(root, open) {
    root.querySelectorAll("details[data-keep-open]").forEach(function (el) {
      if (open[el.dataset.keepOpen]) el.open = true;
    });
  }

  function refresh() {
    if (!pageData.live_url || document.hidden) return;
    fetch(pageData.live_url, { headers: { accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (live) {
        Object.keys(live.fragments || {}).forEach(function (name) {
          var el = document.querySelector('[data-fragment="' + name + '"]');
          if (el) {
            var open = openDetails(el);
            el.innerHTML = live.fragments[name];
            reopenDetails(el, open);
            localiseTimes(el);
          }
        });
        Object.assign(figures, live.figures || {});
        var dataAt = document.getElementById("data-at");
        if (dataAt) {
          dataAt.dataset.utc = live.data_at || "";
          dataAt.textContent = live.data_at_text;
          localiseTimes(dataAt.parentNode);
        }
        return draw();
      })
      .then(function () {
        refreshCount += 1;
        body.dataset.refreshCount = String(refreshCount);
        stamp();
      })
      .catch(function (err) {
        var el = document.getElementById("refreshed");
        if (el) el.textContent = "· refresh failed (" + err.message + "), retrying";
      });
  }

  function wireFilters() {
    var form = document.getElementById("filters");
    if (!form) return;
    form.addEventListener("change", function (event) {
      var target = event.target;
      var custom = form.querySelector("fieldset.custom");
      if (target.name === "range") {
        if (target.value === "custom") {
          custom.classList.remove("collapsed");
          return;
        }
        custom.querySelectorAll("input").forEach(function (input) { input.disabled = true; });
        form.submit();
      } else if (target.name === "platform") {
        if (!form.querySelector('input[name="range"][value="custom"]').checked) {
          custom.querySelectorAll("input").forEach(function (input) { input.disabled = true; });
        }
        form.submit();
      }
    });
    form.addEventListener("submit", function () {
      if (!form.querySelector('input[name="range"][value="custom"]').checked) {
        form.querySelectorAll("fieldset.custom input").forEach(function (input) {
          input.disabled = true;
        });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("tz-toggle");
    if (toggle) {
      toggle.addEventListener("click", function () {
        mode = mode === "utc" ? "local" : "utc";
        try {
          window.localStorage.setItem("viralwatch.tz", mode);
        } catch (err) {
          /* private mode: the choice lasts for this page only */
        }
        updateToggle();
        localiseTimes(document);
        draw();
      });
    }
    updateToggle();
    localiseTimes(document);
    wireFilters();
    draw().then(function () {
      body.dataset.chartsReady = "1";
    });
    if (pageData.live_url) window.setInterval(refresh, refreshSeconds * 1000);
  });
})();

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
      // On a narrow screen a legend above the plot wraps upward into the title: put it under
      // the time axis and make room for its rows.
      if (window.innerWidth < 900 && layout.showlegend && layout.legend) {
        var rows = Math.ceil(data.length / Math.max(1, Math.floor(window.innerWidth / 130)));
        layout.legend = Object.assign({}, layout.legend, { yref: "container", y: 0, yanchor: "bottom" });
        layout.margin = Object.assign({}, layout.margin, { t: 44, b: 84 + 22 * rows });
        layout.height = (layout.height || 360) + 22 * rows;
      }
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

  // A table wider than its card gets a "scroll" hint above it (the edge shadows are CSS).
  function markScrollers(root) {
    root.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var hint = wrap.previousElementSibling;
      if (!hint || !hint.classList.contains("scroll-hint")) {
        hint = document.createElement("p");
        hint.className = "scroll-hint";
        hint.textContent = "⇆ scroll sideways for more columns";
        wrap.parentNode.insertBefore(hint, wrap);
      }
      hint.classList.toggle("on", wrap.scrollWidth > wrap.clientWidth + 1);
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
            markScrollers(el.parentNode);
          }
        });
        Object.assign(figures, live.figures || {});
        var dataAt = document.getElementById("data-at");
        if (dataAt) {
          dataAt.dataset.utc = live.data_at || "";
          dataAt.textContent = live.data_at_text;
          var label = document.getElementById("data-label");
          if (label) label.textContent = live.data_at ? "Data as of" : "";
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

  // The custom range is typed as "YYYY-MM-DD HH:MM" (ISO, 24-hour) in the chosen zone and sent
  // as UTC with a Z; the browser's own date picker would follow its locale (12-hour in the US).
  function isoToZone(iso) {
    if (!iso) return "";
    var text = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + "Z";
    var d = new Date(text);
    if (isNaN(d.getTime())) return iso;
    if (mode === "utc") return d.toISOString().slice(0, 16).replace("T", " ");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function zoneToIso(typed) {
    var m = /^\s*(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2}))?\s*$/.exec(typed);
    if (!m) return typed.trim();  // the server names what is wrong with it
    var parts = [+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0)];
    var d = mode === "utc" ? new Date(Date.UTC.apply(null, parts)) :
      new Date(parts[0], parts[1], parts[2], parts[3], parts[4]);
    return d.toISOString().slice(0, 16) + "Z";
  }

  function showRange(form) {
    form.querySelectorAll("input.when").forEach(function (input) {
      var hidden = form.querySelector('input[type=hidden][name="' + input.dataset.field + '"]');
      input.value = isoToZone(hidden.value);
    });
    form.querySelectorAll(".tz-name").forEach(function (el) { el.textContent = zoneLabel(); });
  }

  function syncRange(form) {
    form.querySelectorAll("input.when").forEach(function (input) {
      var hidden = form.querySelector('input[type=hidden][name="' + input.dataset.field + '"]');
      hidden.value = zoneToIso(input.value);
    });
  }

  function wireFilters() {
    var form = document.getElementById("filters");
    if (!form) return;
    showRange(form);
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
        syncRange(form);
        if (!form.querySelector('input[name="range"][value="custom"]').checked) {
          custom.querySelectorAll("input").forEach(function (input) { input.disabled = true; });
        }
        form.submit();
      }
    });
    form.addEventListener("submit", function () {
      syncRange(form);
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
        var form = document.getElementById("filters");
        if (form) showRange(form);
        draw();
      });
    }
    updateToggle();
    localiseTimes(document);
    wireFilters();
    markScrollers(document);
    window.addEventListener("resize", function () { markScrollers(document); });
    draw().then(function () {
      body.dataset.chartsReady = "1";
    });
    if (pageData.live_url) window.setInterval(refresh, refreshSeconds * 1000);
  });
})();
